/** Sending calls: fetch, time-outs, retries, and reading the envelope. */

import { camelize, snakify } from './case.js';
import {
  APIError,
  ConnectError,
  type ErrorDetail,
  RequestTimeout,
  TransportError,
  UnexpectedResponse,
  errorClass,
} from './errors.js';
import { IDEMPOTENCY_HEADER } from './idempotency.js';
import { RetryPolicy, parseRetryAfter } from './retry.js';

export interface Call {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  query?: Record<string, unknown>;
  body?: unknown;
  /** False for calls that must not run twice (a submit without jobId or idempotency key). */
  idempotent?: boolean;
  /** Extra request headers of this call (e.g. `Idempotency-Key`), kept on every retry. */
  headers?: Record<string, string>;
  /** Milliseconds; overrides the client's time-out for this call (0 = none). */
  timeout?: number;
}

export interface Envelope {
  success: boolean;
  data: unknown;
  meta?: { requestId?: string; [k: string]: unknown };
  errors?: ErrorDetail[];
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface HttpOptions {
  baseUrl: string;
  apiKey?: string;
  timeout: number;
  retry: RetryPolicy;
  headers: Record<string, string>;
  fetch: FetchLike;
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener('abort', abort);
      resolve();
    }
    function abort(): void {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener('abort', abort, { once: true });
  });

function queryString(query: Record<string, unknown> | undefined): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== null) params.set(k, String(v));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

function neverSent(err: unknown): boolean {
  // Node's fetch puts the socket error under `cause`; browsers say nothing.
  const code = (err as { cause?: { code?: string } })?.cause?.code;
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
}

export class Http {
  constructor(readonly options: HttpOptions) {}

  /** Send with retries; resolves to the final Response (error statuses included). */
  async send(call: Call, signal?: AbortSignal): Promise<Response> {
    const { retry } = this.options;
    const idempotent = call.idempotent ?? true;
    for (let attempt = 0; ; attempt++) {
      let delay: number | null;
      try {
        const response = await this.once(call, signal);
        const wait = parseRetryAfter(response.headers.get('retry-after'));
        const busy = await keyInProgress(call, response);
        delay = retry.delayForStatus(attempt, response.status, idempotent, wait, busy);
        if (delay === null) return response;
        await response.body?.cancel();
      } catch (err) {
        if (!(err instanceof TransportError) || signal?.aborted) throw err;
        delay = retry.delayForError(attempt, err instanceof ConnectError, idempotent);
        if (delay === null) throw err;
      }
      await sleep(delay, signal);
    }
  }

  private async once(call: Call, signal?: AbortSignal): Promise<Response> {
    const { baseUrl, timeout, headers, fetch } = this.options;
    const url = `${baseUrl}${call.path}${queryString(call.query)}`;
    const controller = new AbortController();
    const ms = call.timeout ?? timeout;
    const timer = ms > 0 ? setTimeout(() => controller.abort(), ms) : undefined;
    const onAbort = (): void => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const init: RequestInit = {
      method: call.method, headers: { ...headers, ...call.headers }, signal: controller.signal,
    };
    if (call.body !== undefined) {
      init.body = JSON.stringify(snakify(call.body));
      (init.headers as Record<string, string>)['Content-Type'] = 'application/json';
    }
    try {
      return await fetch(url, init);
    } catch (err) {
      if (signal?.aborted) throw signal.reason ?? err;
      if (controller.signal.aborted) {
        throw new RequestTimeout(`${call.method} ${url} timed out after ${ms} ms`, err);
      }
      const Cls = neverSent(err) ? ConnectError : TransportError;
      throw new Cls(`${call.method} ${url} failed: ${(err as Error).message}`, err);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Send and return the envelope's `data` in camelCase; throw the API error otherwise. */
  async request<T>(call: Call, signal?: AbortSignal): Promise<T> {
    const envelope = await this.envelope(call, signal, true);
    return camelize<T>(envelope.data);
  }

  /** The whole envelope; API errors are thrown only when `raise` is true. */
  async envelope(call: Call, signal?: AbortSignal, raise = true): Promise<Envelope> {
    const response = await this.send(call, signal);
    const body = await readJson(response);
    const isEnvelope = body !== null && typeof body === 'object' && 'success' in body;
    if (!response.ok || (isEnvelope && (body as Envelope).success === false)) {
      const error = apiError(response, body);
      if (raise) throw error;
      const errors = error.errors.length ? error.errors : [{ code: error.code, message: error.message }];
      return { success: false, data: null, errors };
    }
    if (body === undefined) {
      throw new UnexpectedResponse(`${call.path}: the answer is not JSON`, response.status);
    }
    return isEnvelope ? (body as Envelope) : { success: true, data: body };
  }
}

/**
 * True for a 409 saying that the first request with this call's `Idempotency-Key` is
 * still being processed (`details.retry`): the same request may be sent again. The
 * answer is read from a clone, so the caller can still read it.
 */
async function keyInProgress(call: Call, response: Response): Promise<boolean> {
  if (response.status !== 409 || !call.headers?.[IDEMPOTENCY_HEADER]) return false;
  const body = (await readJson(response.clone())) as
    | { errors?: Array<{ details?: { retry?: unknown } }> }
    | undefined
    | null;
  const first = Array.isArray(body?.errors) ? body?.errors[0] : undefined;
  return first?.details?.retry === true;
}

export async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function apiError(response: Response, body: unknown): APIError {
  const env = (body ?? {}) as { errors?: ErrorDetail[]; meta?: { request_id?: string } };
  const errors = Array.isArray(env.errors) ? env.errors : [];
  const first: Partial<ErrorDetail> = errors[0] ?? {};
  const Cls = errorClass(first.code, response.status);
  const message = first.message || `HTTP ${response.status} ${response.statusText}`;
  return new Cls(message, {
    code: first.code,
    field: first.field ?? null,
    details: first.details ?? {},
    requestId: env.meta?.request_id ?? response.headers.get('x-request-id'),
    status: response.status,
    headers: response.headers,
    body,
    errors,
  });
}
