/** Order statistics of samples, nearest-rank (no interpolation between samples). */

/** The q-quantile (0..1) of `samples`; NaN when there are none. Sorts a copy. */
export function quantile(samples: ArrayLike<number>, q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export const median = (samples: ArrayLike<number>) => quantile(samples, 0.5);
