// Retries and errors against a real (scripted) HTTP server.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, beforeEach, test } from 'node:test';

import {
  AutoScorerClient, Conflict, ConnectError, IDEMPOTENCY_HEADER, QuotaExceeded, RetryPolicy, ServiceUnavailable,
  TransportError, newIdempotencyKey, parseRetryAfter,
} from '../dist/esm/index.js';
import { startScripted } from '../testlib/scripted.mjs';

let srv;
const fast = { maxRetries: 3, backoffBase: 10, backoffMax: 50 };
const client = (extra = {}) => new AutoScorerClient({ baseUrl: srv.url, retries: { ...fast, ...extra } });

before(async () => { srv = await startScripted(); });
after(async () => { await srv.close(); });
beforeEach(() => { srv.requests.length = 0; });

test('429 is retried after Retry-After', async () => {
  srv.fail(429, 'QUOTA_EXCEEDED', { 'Retry-After': '0.3' });
  const started = Date.now();
  assert.equal((await client().health()).status, 'healthy');
  assert.equal(srv.requests.length, 2);
  assert.ok(Date.now() - started >= 290);
});

test('429 is retried even for a submit without jobId', async () => {
  srv.fail(429, 'QUOTA_EXCEEDED', { 'Retry-After': '0' });
  srv.reply(202, { success: true, data: { job_id: 'j1', status: 'submitted' } });
  const job = await client().submitJob({ workspacePath: '/w', async: true });
  assert.equal(job.jobId, 'j1');
  assert.equal(srv.requests.length, 2);
  assert.deepEqual(srv.requests[0].body, { workspace_path: '/w', async: true });
});

test('429 gives up with QuotaExceeded carrying retryAfter', async () => {
  for (let i = 0; i < 3; i++) srv.fail(429, 'QUOTA_EXCEEDED', { 'Retry-After': '0' });
  await assert.rejects(client({ maxRetries: 2 }).health(), (err) => {
    assert.ok(err instanceof QuotaExceeded);
    assert.equal(err.retryAfter, 0);
    assert.equal(err.status, 429);
    assert.equal(err.requestId, 'req_x');
    return true;
  });
  assert.equal(srv.requests.length, 3);
});

test('503 is retried for idempotent calls', async () => {
  srv.fail(503, 'SERVICE_UNAVAILABLE');
  srv.fail(503, 'SERVICE_UNAVAILABLE');
  assert.equal((await client().health()).status, 'healthy');
  assert.equal(srv.requests.length, 3);
});

test('503 is not retried for a submit without jobId', async () => {
  srv.fail(503, 'SERVICE_UNAVAILABLE');
  await assert.rejects(client().submitJob({ workspacePath: '/w' }), ServiceUnavailable);
  assert.equal(srv.requests.length, 1);
});

test('503 is retried for a submit with jobId', async () => {
  srv.fail(503, 'SERVICE_UNAVAILABLE');
  srv.reply(200, { success: true, data: { job_id: 'j1', status: 'completed' } });
  assert.equal((await client().submitJob({ jobId: 'j1', workspacePath: '/w' })).jobId, 'j1');
  assert.equal(srv.requests.length, 2);
});

test('a dropped connection is retried only when idempotent', async () => {
  srv.drop();
  assert.equal((await client().health()).status, 'healthy');
  assert.equal(srv.requests.length, 2);
  srv.requests.length = 0;
  srv.drop();
  await assert.rejects(client().submitJob({ workspacePath: '/w' }), TransportError);
  assert.equal(srv.requests.length, 1);
});

test('a refused connection is a ConnectError', async () => {
  const probe = createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  const c = new AutoScorerClient({ baseUrl: `http://127.0.0.1:${port}`, retries: { ...fast, maxRetries: 1 } });
  await assert.rejects(c.health(), ConnectError);
});

test('the API key is sent as a bearer token', async () => {
  await new AutoScorerClient({ baseUrl: srv.url, apiKey: 'k-123' }).health();
  assert.equal(srv.requests[0].headers.authorization, 'Bearer k-123');
});

test('backoff grows exponentially with bounded jitter', () => {
  let seed = 1;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const p = new RetryPolicy({ backoffBase: 1000, backoffMax: 8000, random });
  [1000, 2000, 4000, 8000, 8000].forEach((step, attempt) => {
    const delays = Array.from({ length: 200 }, () => p.backoff(attempt));
    assert.ok(Math.min(...delays) >= step / 2 && Math.max(...delays) <= step);
    assert.ok(Math.max(...delays) - Math.min(...delays) > step / 4);
  });
  assert.equal(p.delayForStatus(0, 429, false, 1500), 1500);
  assert.equal(p.delayForStatus(0, 503, false, null), null);
  assert.equal(p.delayForStatus(0, 404, true, null), null);
  assert.equal(p.delayForError(0, false, false), null);
  assert.notEqual(p.delayForError(0, true, false), null);
});

test('parseRetryAfter reads seconds and HTTP dates', () => {
  assert.equal(parseRetryAfter('2'), 2000);
  assert.equal(parseRetryAfter(null), null);
  assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')), 10000);
});

// -- Idempotency-Key -------------------------------------------------------------

const keyOf = (r) => r.headers['idempotency-key'] ?? null;
const stillRunning = {
  success: false,
  data: null,
  meta: { request_id: 'req_busy' },
  errors: [{ code: 'CONFLICT', message: 'still being processed', field: 'Idempotency-Key', details: { retry: true } }],
};

test('the idempotency key is sent as a header only when given', async () => {
  srv.reply(202, { success: true, data: { job_id: 'j1', status: 'queued' } });
  srv.reply(202, { success: true, data: { job_id: 'j2', status: 'queued' } });
  srv.reply(202, { success: true, data: { batch_id: 'b1', jobs: [{ job_id: 'j3' }] } });
  const c = client();
  await c.submitJob({ workspacePath: '/w', async: true }, { idempotencyKey: 'k1' });
  await c.submitJob({ workspacePath: '/w', async: true });
  await c.submitBatch([{ workspacePath: '/w' }], { idempotencyKey: 'kb' });
  assert.deepEqual(srv.requests.map(keyOf), ['k1', null, 'kb']);
  assert.deepEqual(srv.requests[0].body, { workspace_path: '/w', async: true });
});

test('a submit with an idempotency key is retried on 503 and after a drop, with the same key', async () => {
  srv.fail(503, 'SERVICE_UNAVAILABLE');
  srv.drop();
  srv.reply(202, { success: true, data: { job_id: 'j1', status: 'queued' } });
  const job = await client().submitJob({ workspacePath: '/w' }, { idempotencyKey: 'k1' });
  assert.equal(job.jobId, 'j1');
  assert.deepEqual(srv.requests.map(keyOf), ['k1', 'k1', 'k1']);
});

test('a batch with an idempotency key is retried even without job ids', async () => {
  srv.fail(503, 'SERVICE_UNAVAILABLE');
  srv.reply(202, { success: true, data: { batch_id: 'b1', jobs: [{ job_id: 'j1' }] } });
  const out = await client().submitBatch([{ workspacePath: '/a' }], { idempotencyKey: 'kb' });
  assert.deepEqual(out.jobIds, ['j1']);
  assert.equal(srv.requests.length, 2);
});

test('409 "still being processed" is retried; other 409s are not', async () => {
  srv.reply(409, stillRunning);
  srv.reply(409, stillRunning);
  srv.reply(200, { success: true, data: { job_id: 'j1', status: 'completed' } });
  assert.equal((await client().submitJob({ workspacePath: '/w' }, { idempotencyKey: 'k1' })).jobId, 'j1');
  assert.deepEqual(srv.requests.map(keyOf), ['k1', 'k1', 'k1']);
  srv.requests.length = 0;
  srv.fail(409, 'CONFLICT');
  await assert.rejects(client().submitJob({ workspacePath: '/w' }, { idempotencyKey: 'k1' }), Conflict);
  assert.equal(srv.requests.length, 1);
  srv.requests.length = 0;
  srv.reply(409, stillRunning); // without a key nothing says it is this call's key
  await assert.rejects(client().submitJob({ jobId: 'j1', workspacePath: '/w' }), Conflict);
  assert.equal(srv.requests.length, 1);
  srv.requests.length = 0;
  for (let i = 0; i < 3; i++) srv.reply(409, stillRunning);
  await assert.rejects(
    client({ maxRetries: 2 }).submitJob({ workspacePath: '/w' }, { idempotencyKey: 'k1' }),
    (e) => e instanceof Conflict && e.details.retry === true && e.field === 'Idempotency-Key',
  );
  assert.equal(srv.requests.length, 3);
});

test('autoIdempotency gives each submit call its own key, kept across retries', async () => {
  srv.drop();
  srv.reply(202, { success: true, data: { job_id: 'j1', status: 'queued' } });
  srv.reply(202, { success: true, data: { job_id: 'j2', status: 'queued' } });
  srv.fail(503, 'SERVICE_UNAVAILABLE');
  srv.reply(202, { success: true, data: { batch_id: 'b1', jobs: [{ job_id: 'j3' }] } });
  const c = new AutoScorerClient({ baseUrl: srv.url, retries: fast, autoIdempotency: true });
  await c.submitJob({ workspacePath: '/w', async: true });
  await c.submitJob({ workspacePath: '/w', async: true }, { idempotencyKey: 'mine' });
  await c.submitBatch([{ workspacePath: '/w' }]);
  const keys = srv.requests.map(keyOf);
  assert.equal(keys.length, 5);
  assert.match(keys[0], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(keys[1], keys[0]);
  assert.equal(keys[2], 'mine');
  assert.equal(keys[3], keys[4]);
  assert.notEqual(keys[3], keys[0]);
});

test('newIdempotencyKey makes v4 UUIDs, also without crypto.randomUUID', () => {
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  assert.match(newIdempotencyKey(), uuid);
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
  try {
    Object.defineProperty(globalThis, 'crypto', { value: undefined, configurable: true, writable: true });
    const keys = new Set(Array.from({ length: 100 }, () => newIdempotencyKey()));
    assert.equal(keys.size, 100);
    for (const k of keys) assert.match(k, uuid);
  } finally {
    Object.defineProperty(globalThis, 'crypto', descriptor);
  }
  assert.equal(IDEMPOTENCY_HEADER, 'Idempotency-Key');
  const p = new RetryPolicy({ maxRetries: 2 });
  assert.notEqual(p.delayForStatus(0, 409, true, null, true), null);
  assert.equal(p.delayForStatus(0, 409, true, null), null);
  assert.equal(p.delayForStatus(2, 409, true, null, true), null);
});
