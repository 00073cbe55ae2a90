import { describe, expect, it } from "vitest";
import { TokenBuckets } from "../../src/rate-limit";

describe("TokenBuckets", () => {
  it("allows a burst, then refuses until tokens refill at the rate", () => {
    const buckets = new TokenBuckets(10, 3); // 10 per second, burst 3
    const t0 = 1_000_000;
    expect([1, 2, 3, 4].map(() => buckets.take("a", t0))).toEqual([true, true, true, false]);
    expect(buckets.take("a", t0 + 50)).toBe(false); // half a token
    expect(buckets.take("a", t0 + 100)).toBe(true); // one token after 100 ms
    expect(buckets.take("a", t0 + 100)).toBe(false);
  });

  it("never holds more than the burst, however long the wait", () => {
    const buckets = new TokenBuckets(10, 2);
    const t0 = 0;
    buckets.take("a", t0);
    const later = t0 + 60_000;
    expect([1, 2, 3].map(() => buckets.take("a", later))).toEqual([true, true, false]);
  });

  it("keeps one bucket per key, and forgets a key", () => {
    const buckets = new TokenBuckets(1, 1);
    expect(buckets.take("a", 0)).toBe(true);
    expect(buckets.take("a", 0)).toBe(false);
    expect(buckets.take("b", 0)).toBe(true);
    buckets.forget("a");
    expect(buckets.take("a", 0)).toBe(true);
  });
});
