export { AutoScorerClient } from './client.js';
export type {
  BatchOptions, ClientOptions, FollowOptions, LogOptions, SubmitOptions, WaitOptions,
} from './client.js';
export { IDEMPOTENCY_HEADER, newIdempotencyKey } from './idempotency.js';
export * from './errors.js';
export { RetryPolicy, parseRetryAfter } from './retry.js';
export type { RetryOptions } from './retry.js';
export type { FetchLike } from './http.js';
export type * from './types.js';
export {
  SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookVerificationError, verifyWebhook,
} from './webhooks.js';
export type {
  VerifyWebhookOptions, WebhookBody, WebhookEvent, WebhookHeaders, WebhookVerificationReason,
} from './webhooks.js';
