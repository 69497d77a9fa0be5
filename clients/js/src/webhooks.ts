/**
 * Verify AutoScorer's signed webhooks in a receiver: Node 18+, Deno, Bun, edge
 * workers and browsers (secure contexts). Uses WebCrypto (`crypto.subtle`), whose
 * HMAC verify compares in constant time.
 *
 *   const event = await verifyWebhook(rawBody, req.headers, process.env.WEBHOOK_SECRET);
 *
 * Pass the raw body (string, Buffer/Uint8Array or ArrayBuffer) exactly as received,
 * before any JSON parsing. The returned event has camelCase keys like every SDK result.
 */
import { camelize } from './case.js';
import { AutoScorerError } from './errors.js';

export const SIGNATURE_HEADER = 'X-AutoScorer-Signature';
export const TIMESTAMP_HEADER = 'X-AutoScorer-Timestamp';

export type WebhookVerificationReason =
  | 'missing_header'
  | 'bad_timestamp'
  | 'bad_signature'
  | 'stale_timestamp'
  | 'bad_body';

export class WebhookVerificationError extends AutoScorerError {
  constructor(
    message: string,
    readonly reason: WebhookVerificationReason,
  ) {
    super(message);
  }
}

/** One job state change (docs/webhooks.md), keys camelCased. */
export interface WebhookEvent {
  eventId: string;
  type: string;
  jobId: string;
  status: string;
  previousStatus: string | null;
  score: number | null;
  errorCode: string | null;
  requestId: string | null;
  timestamp: string;
}

export interface VerifyWebhookOptions {
  /** Largest accepted distance between the signed timestamp and now, in seconds (300). */
  tolerance?: number;
  /** "Now" in Unix seconds; defaults to the clock. */
  now?: number;
}

export type WebhookHeaders =
  | Headers
  | Record<string, string | string[] | undefined>;
export type WebhookBody = string | Uint8Array | ArrayBuffer;

/** Check the signature and timestamp; resolve to the event or reject with WebhookVerificationError. */
export async function verifyWebhook(
  body: WebhookBody,
  headers: WebhookHeaders,
  secret: string,
  options: VerifyWebhookOptions = {},
): Promise<WebhookEvent> {
  if (!secret) throw new TypeError('verifyWebhook: the webhook secret is empty');
  const signature = header(headers, SIGNATURE_HEADER);
  const ts = timestamp(header(headers, TIMESTAMP_HEADER));
  const raw = bytes(body);
  if (!(await signatureMatches(raw, secret, ts, signature))) {
    throw new WebhookVerificationError(
      'webhook signature does not match (wrong secret, or the body was changed)',
      'bad_signature',
    );
  }
  const tolerance = options.tolerance ?? 300;
  const age = (options.now ?? Date.now() / 1000) - ts;
  if (Math.abs(age) > tolerance) {
    throw new WebhookVerificationError(
      `webhook timestamp is ${Math.round(age)} s away from now (tolerance ${tolerance} s)`,
      'stale_timestamp',
    );
  }
  return camelize<WebhookEvent>(parse(raw));
}

function header(headers: WebhookHeaders, name: string): string {
  let value: string | string[] | null | undefined;
  if (typeof Headers !== 'undefined' && headers instanceof Headers) {
    value = headers.get(name);
  } else {
    const wanted = name.toLowerCase(); // Node's IncomingMessage lower-cases header names
    const record = headers as Record<string, string | string[] | undefined>;
    const key = Object.keys(record).find((k) => k.toLowerCase() === wanted);
    value = key === undefined ? undefined : record[key];
  }
  if (Array.isArray(value)) value = value[0];
  if (!value) throw new WebhookVerificationError(`webhook has no ${name} header`, 'missing_header');
  return value;
}

function timestamp(text: string): number {
  if (!/^[0-9]{1,15}$/.test(text)) {
    throw new WebhookVerificationError(
      `webhook timestamp ${JSON.stringify(text.slice(0, 40))} is not Unix seconds`,
      'bad_timestamp',
    );
  }
  return Number(text);
}

async function signatureMatches(
  raw: Uint8Array<ArrayBuffer>,
  secret: string,
  ts: number,
  signature: string,
): Promise<boolean> {
  const hex = /^sha256=([0-9a-f]{64})$/.exec(signature);
  if (!hex) return false;
  const subtle = await subtleCrypto();
  const key = await subtle.importKey(
    'raw', utf8(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'],
  );
  return subtle.verify('HMAC', key, fromHex(hex[1]), concat(utf8(`${ts}.`), raw));
}

async function subtleCrypto(): Promise<SubtleCrypto> {
  const subtle = globalThis.crypto?.subtle;
  if (subtle) return subtle;
  // Node 18 has no global `crypto`; node:crypto's webcrypto is the same API. The name is
  // held in a variable so bundlers for browsers leave it alone (browsers never get here).
  const moduleName = 'node:crypto';
  const nodeCrypto = (await import(moduleName)) as { webcrypto: { subtle: SubtleCrypto } };
  return nodeCrypto.webcrypto.subtle;
}

function bytes(body: WebhookBody): Uint8Array<ArrayBuffer> {
  if (typeof body === 'string') return utf8(body);
  const view = body instanceof ArrayBuffer ? new Uint8Array(body) : body;
  const copy = new Uint8Array(view.byteLength);
  copy.set(view);
  return copy;
}

function parse(raw: Uint8Array<ArrayBuffer>): unknown {
  let event: unknown;
  try {
    event = JSON.parse(new TextDecoder().decode(raw));
  } catch (err) {
    throw new WebhookVerificationError(`webhook body is not JSON: ${String(err)}`, 'bad_body');
  }
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw new WebhookVerificationError('webhook body is not a JSON object', 'bad_body');
  }
  return event;
}

function utf8(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(text) as Uint8Array<ArrayBuffer>;
}

function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function concat(a: Uint8Array<ArrayBuffer>, b: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
