/**
 * When to retry and how long to wait (the same rules as the Python SDK):
 * - 429 is always retried, waiting what Retry-After says when given;
 * - 5xx answers and lost connections only for idempotent calls (a submit only
 *   when it carries its jobId or an idempotency key), so a job is never created twice;
 * - a 409 saying the first request with the same Idempotency-Key is still being
 *   processed (`details.retry`) is retried with backoff, then gets the first answer;
 * - a refused connection (nothing was sent) is retried for every call;
 * - otherwise exponential backoff with jitter (half fixed, half random).
 */

export interface RetryOptions {
  maxRetries?: number;
  /** First backoff step in milliseconds. */
  backoffBase?: number;
  /** Largest backoff step in milliseconds. */
  backoffMax?: number;
  /** A Retry-After longer than this (ms) is not waited for: the error is raised. */
  maxRetryAfter?: number;
  random?: () => number;
}

export const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);

export class RetryPolicy {
  readonly maxRetries: number;
  readonly backoffBase: number;
  readonly backoffMax: number;
  readonly maxRetryAfter: number;
  private readonly random: () => number;

  constructor(options: RetryOptions = {}) {
    this.maxRetries = options.maxRetries ?? 3;
    this.backoffBase = options.backoffBase ?? 500;
    this.backoffMax = options.backoffMax ?? 30_000;
    this.maxRetryAfter = options.maxRetryAfter ?? 120_000;
    this.random = options.random ?? Math.random;
  }

  /** Milliseconds to wait before retry number `attempt + 1`. */
  backoff(attempt: number): number {
    const step = Math.min(this.backoffMax, this.backoffBase * 2 ** attempt);
    return step / 2 + this.random() * (step / 2);
  }

  /**
   * Milliseconds to wait after an HTTP status, or null to give up. `inProgress`: the
   * answer is a 409 saying the first request with this Idempotency-Key is still running.
   */
  delayForStatus(
    attempt: number,
    status: number,
    idempotent: boolean,
    retryAfterMs: number | null,
    inProgress = false,
  ): number | null {
    const retryable = RETRY_STATUSES.has(status) || (status === 409 && inProgress);
    if (attempt >= this.maxRetries || !retryable) return null;
    if (status !== 429 && !idempotent) return null;
    if (retryAfterMs !== null) return retryAfterMs <= this.maxRetryAfter ? retryAfterMs : null;
    return this.backoff(attempt);
  }

  /** Milliseconds to wait after a network failure, or null to give up. */
  delayForError(attempt: number, neverSent: boolean, idempotent: boolean): number | null {
    if (attempt >= this.maxRetries || !(idempotent || neverSent)) return null;
    return this.backoff(attempt);
  }
}

/** Retry-After (seconds or an HTTP date) in milliseconds. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (!value) return null;
  const seconds = Number(value);
  if (!Number.isNaN(seconds)) return Math.max(0, seconds * 1000);
  const when = Date.parse(value);
  return Number.isNaN(when) ? null : Math.max(0, when - now);
}
