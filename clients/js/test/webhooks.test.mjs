// verifyWebhook against signatures made by the Python server code (autoscorer.webhooks).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { AutoScorerError, verifyWebhook, WebhookVerificationError } from '../dist/esm/index.js';

const SECRET = 'whsec-js';
const WHSEC = `whsec_${Buffer.from('a standard webhooks key!').toString('base64')}`;
const PY = `
import json, sys
from autoscorer.webhooks import signed_request
event = {"event_id": "evt_1", "type": "job.completed", "job_id": "j1", "status": "completed",
         "previous_status": "running", "score": 0.85, "error_code": None, "request_id": "r1",
         "timestamp": "2026-11-28T10:01:15Z"}
body, headers = signed_request(event, sys.argv[1], sys.argv[2])
print(json.dumps({"body": body.decode(), "headers": headers}))
`;
function pySigned(secret, scheme) {
  const out = execFileSync(process.env.PYTHON ?? 'python3', ['-c', PY, secret, scheme],
    { encoding: 'utf8' });
  return JSON.parse(out);
}
// the X-AutoScorer-Signature scheme (the tests below that predate Standard Webhooks)
const signed = pySigned(SECRET, 'autoscorer');
const TS = Number(signed.headers['X-AutoScorer-Timestamp']);
const lower = Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), v]));

async function reason(promise) {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof WebhookVerificationError && err instanceof AutoScorerError);
    assert.equal(err.name, 'WebhookVerificationError');
    return err.reason;
  }
  assert.fail('verifyWebhook accepted it');
}

test('accepts a Python-signed webhook in every body and header form', async () => {
  const bodies = [signed.body, Buffer.from(signed.body), new TextEncoder().encode(signed.body).buffer];
  const headerForms = [
    signed.headers, // as sent
    lower, // Node's IncomingMessage.headers
    new Headers(signed.headers), // fetch Request.headers (Next.js, workers, Deno)
    { ...lower, 'x-autoscorer-signature': [lower['x-autoscorer-signature']] },
  ];
  for (const body of bodies) {
    for (const headers of headerForms) {
      const event = await verifyWebhook(body, headers, SECRET);
      assert.deepEqual(event, {
        eventId: 'evt_1', type: 'job.completed', jobId: 'j1', status: 'completed',
        previousStatus: 'running', score: 0.85, errorCode: null, requestId: 'r1',
        timestamp: '2026-11-28T10:01:15Z',
      });
    }
  }
});

test('accepts the Standard Webhooks scheme (default), whsec_ and plain secrets', async () => {
  for (const secret of [WHSEC, SECRET]) {
    const std = pySigned(secret, 'standard');
    assert.equal(std.headers['X-AutoScorer-Signature'], undefined);
    assert.match(std.headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/);
    const event = await verifyWebhook(std.body, new Headers(std.headers), secret);
    assert.equal(event.eventId, 'evt_1');
    const both = pySigned(secret, 'both');
    assert.equal((await verifyWebhook(both.body, both.headers, secret)).jobId, 'j1');
  }
  const std = pySigned(WHSEC, 'standard');
  const ts = Number(std.headers['webhook-timestamp']);
  const h = std.headers;
  const rotated = { ...h, 'webhook-signature': `v1,bm90IGl0 ${h['webhook-signature']}` };
  assert.ok(await verifyWebhook(std.body, rotated, WHSEC)); // any entry of the list may match
  const cases = [
    [std.body.replace('0.85', '0.95'), h, WHSEC, {}, 'bad_signature'],
    [std.body, h, SECRET, {}, 'bad_signature'],
    [std.body, { ...h, 'webhook-id': 'evt_2' }, WHSEC, {}, 'bad_signature'],
    [std.body, { ...h, 'webhook-signature': 'v1,***' }, WHSEC, {}, 'bad_signature'],
    [std.body, { ...h, 'webhook-signature': 'v2,abc' }, WHSEC, {}, 'bad_signature'],
    [std.body, { 'webhook-signature': h['webhook-signature'], 'webhook-timestamp': String(ts) },
      WHSEC, {}, 'missing_header'],
    [std.body, { ...h, 'webhook-timestamp': 'soon' }, WHSEC, {}, 'bad_timestamp'],
    [std.body, h, WHSEC, { now: ts + 301 }, 'stale_timestamp'],
  ];
  for (const [body, headers, secret, options, expected] of cases) {
    assert.equal(await reason(verifyWebhook(body, headers, secret, options)), expected);
  }
  await assert.rejects(verifyWebhook(std.body, h, 'whsec_not*base64'), TypeError);
});

test('rejects, saying why', async () => {
  const h = signed.headers;
  const cases = [
    [signed.body.replace('0.85', '0.95'), h, SECRET, {}, 'bad_signature'],
    [signed.body, h, 'wrong-secret', {}, 'bad_signature'],
    [signed.body, { ...h, 'X-AutoScorer-Signature': h['X-AutoScorer-Signature'].toUpperCase() },
      SECRET, {}, 'bad_signature'],
    [signed.body, { ...h, 'X-AutoScorer-Signature': 'sha256=abc' }, SECRET, {}, 'bad_signature'],
    [signed.body, { 'X-AutoScorer-Timestamp': String(TS) }, SECRET, {}, 'missing_header'],
    [signed.body, { 'X-AutoScorer-Signature': h['X-AutoScorer-Signature'] }, SECRET, {},
      'missing_header'],
    [signed.body, { ...h, 'X-AutoScorer-Timestamp': '1e9' }, SECRET, {}, 'bad_timestamp'],
    [signed.body, h, SECRET, { now: TS + 301 }, 'stale_timestamp'],
    [signed.body, h, SECRET, { now: TS - 301 }, 'stale_timestamp'],
    [signed.body, h, SECRET, { now: TS + 61, tolerance: 60 }, 'stale_timestamp'],
  ];
  for (const [body, headers, secret, options, expected] of cases) {
    assert.equal(await reason(verifyWebhook(body, headers, secret, options)), expected);
  }
  assert.ok(await verifyWebhook(signed.body, h, SECRET, { now: TS + 60, tolerance: 60 }));
  await assert.rejects(verifyWebhook(signed.body, h, ''), TypeError);
});

test('a signed body that is not a JSON object is refused', async () => {
  const PYSIGN = 'import sys; from autoscorer.webhooks import sign; '
    + 'print(sign(sys.argv[1].encode(), sys.argv[2], int(sys.argv[3])))';
  for (const body of ['not json', '[1,2]']) {
    const sig = execFileSync(process.env.PYTHON ?? 'python3', ['-c', PYSIGN, body, SECRET, String(TS)],
      { encoding: 'utf8' }).trim();
    const headers = { 'X-AutoScorer-Signature': sig, 'X-AutoScorer-Timestamp': String(TS) };
    assert.equal(await reason(verifyWebhook(body, headers, SECRET)), 'bad_body');
  }
});

test('the CommonJS build exports it too', async () => {
  const { verifyWebhook: cjsVerify } = createRequire(import.meta.url)('../dist/cjs/index.js');
  assert.equal((await cjsVerify(signed.body, signed.headers, SECRET)).jobId, 'j1');
});

test('works without a global crypto (Node 18) through node:crypto', () => {
  const script = `
    if (globalThis.crypto) throw new Error('global crypto is still there');
    const { verifyWebhook } = await import(${JSON.stringify(new URL('../dist/esm/index.js', import.meta.url).href)});
    const signed = ${JSON.stringify(signed)};
    console.log((await verifyWebhook(signed.body, signed.headers, ${JSON.stringify(SECRET)})).jobId);
  `;
  // A file, not -e: under -e Node exposes its built-in modules (crypto too) as globals.
  const dir = mkdtempSync(join(tmpdir(), 'verify-'));
  try {
    writeFileSync(join(dir, 'check.mjs'), script);
    const args = ['--no-experimental-global-webcrypto', join(dir, 'check.mjs')];
    const out = execFileSync(process.execPath, args, { encoding: 'utf8' });
    assert.equal(out.trim(), 'j1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
