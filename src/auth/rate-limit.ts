/** Buckets kept at most; beyond that, full (idle) buckets are dropped first. */
const MAX_KEYS = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets, one per client (or per address for unauthenticated callers): `perMinute` requests
 * a minute on average, bursts of up to a minute's worth. In memory, per server process.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;

  constructor(private readonly perMinute: number) {
    this.perMs = perMinute / 60_000;
  }

  /** 0 when the request may proceed; otherwise the seconds to wait (for `Retry-After`). */
  take(key: string): number {
    if (this.perMinute <= 0) {
      return 0;
    }
    const now = Date.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= MAX_KEYS) {
        this.prune(now);
      }
      bucket = { tokens: this.perMinute, at: now };
      this.buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(this.perMinute, bucket.tokens + (now - bucket.at) * this.perMs);
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.perMs / 1000));
  }

  private prune(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.perMs >= this.perMinute) {
        this.buckets.delete(key);
      }
    }
    if (this.buckets.size >= MAX_KEYS) {
      // All busy: forgetting some only lets them start over with a full bucket.
      this.buckets.clear();
    }
  }
}
