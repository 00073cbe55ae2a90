/**
 * Per-connection token buckets. Kept in memory only: when the room hibernates its buckets
 * go with it, which forgives nothing, since a room hibernates only after sockets were idle
 * long enough for every bucket to refill anyway.
 * @internal
 */
export class TokenBuckets {
  readonly #rate: number;
  readonly #burst: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(perSecond: number, burst: number) {
    this.#rate = perSecond / 1000;
    this.#burst = burst;
  }

  /** Takes one token for `key`; false when its bucket is empty. */
  take(key: string, now = Date.now()): boolean {
    const bucket = this.#buckets.get(key) ?? { tokens: this.#burst, at: now };
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#rate);
    bucket.at = now;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    this.#buckets.set(key, bucket);
    return allowed;
  }

  forget(key: string): void {
    this.#buckets.delete(key);
  }
}
