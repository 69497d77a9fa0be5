/**
 * Verify AutoScorer's signed webhooks in a receiver: Node 18+, Deno, Bun, edge
 * workers and browsers (secure contexts). Uses WebCrypto (`crypto.subtle`), whose
 * HMAC verify compares in constant time.
 *
 *   const event = await verifyWebhook(rawBody, req.headers, process.env.WEBHOOK_SECRET);
 *
 * Pass the raw body (string, Buffer/Uint8Array or ArrayBuffer) exactly as received,
 * before any JSON parsing. The returned event has camelCase keys like every SDK result.
 * Both schemes the server sends are understood: Standard Webhooks (`webhook-id`,
 * `webhook-timestamp`, `webhook-signature`; preferred when present) and
 * `X-AutoScorer-Signature`. The secret is the server's `webhook_secret` as configured:
 * `whsec_<base64>` (the key is the decoded bytes, as in stock libraries) or any string.
 */
import { camelize } from './case.js';
import { AutoScorerError } from './errors.js';

export const SIGNATURE_HEADER = 'X-AutoScorer-Signature';
export const TIMESTAMP_HEADER = 'X-AutoScorer-Timestamp';
export const STANDARD_ID_HEADER = 'webhook-id';
export const STANDARD_TIMESTAMP_HEADER = 'webhook-timestamp';
export const STANDARD_SIGNATURE_HEADER = 'webhook-signature';
const SECRET_PREFIX = 'whsec_';

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
  const raw = bytes(body);
  const standard =
    find(headers, STANDARD_SIGNATURE_HEADER) !== undefined ||
    find(headers, SIGNATURE_HEADER) === undefined;
  const ts = standard
    ? timestamp(header(headers, STANDARD_TIMESTAMP_HEADER))
    : timestamp(header(headers, TIMESTAMP_HEADER));
  const matches = standard
    ? await standardMatches(raw, secret, headers, ts)
    : await signatureMatches(raw, secret, ts, header(headers, SIGNATURE_HEADER));
  if (!matches) {
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

function find(headers: WebhookHeaders, name: string): string | undefined {
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
  return value || undefined;
}

function header(headers: WebhookHeaders, name: string): string {
  const value = find(headers, name);
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

/** Standard Webhooks: any `v1,<base64>` entry of the space-separated signature header may match. */
async function standardMatches(
  raw: Uint8Array<ArrayBuffer>,
  secret: string,
  headers: WebhookHeaders,
  ts: number,
): Promise<boolean> {
  const signatures = header(headers, STANDARD_SIGNATURE_HEADER);
  const signed = concat(utf8(`${header(headers, STANDARD_ID_HEADER)}.${ts}.`), raw);
  const subtle = await subtleCrypto();
  const key = await subtle.importKey(
    'raw', secretKey(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'],
  );
  for (const entry of signatures.split(' ')) {
    const mac = entry.startsWith('v1,') ? fromBase64(entry.slice(3)) : undefined;
    if (mac && (await subtle.verify('HMAC', key, mac, signed))) return true;
  }
  return false;
}

function secretKey(secret: string): Uint8Array<ArrayBuffer> {
  if (!secret.startsWith(SECRET_PREFIX)) return utf8(secret);
  const key = fromBase64(secret.slice(SECRET_PREFIX.length));
  if (!key) throw new TypeError(`verifyWebhook: a ${SECRET_PREFIX} secret must be base64`);
  return key;
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const padded = text + '='.repeat((4 - (text.length % 4)) % 4);
  try {
    const binary = atob(padded);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) out[i] = binary.charCodeAt(i);
    return out;
  } catch {
    return undefined;
  }
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
