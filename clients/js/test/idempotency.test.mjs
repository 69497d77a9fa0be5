// Idempotency-Key against the real Python server: a repeat gets the first job, another
// body is a Conflict, and a submit whose answer was lost is retried without a second job.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { AutoScorerClient, Conflict, ScorerNotFound, TransportError } from '../dist/esm/index.js';
import { ADMIN_KEY, startServer } from '../testlib/server.mjs';

const uid = (p) => `${p}-${Math.random().toString(16).slice(2, 10)}`;
const fast = { maxRetries: 3, backoffBase: 10, backoffMax: 50 };
let srv;
let client;

before(async () => {
  srv = await startServer();
  client = new AutoScorerClient({ baseUrl: srv.url, apiKey: ADMIN_KEY });
  await client.scorers.load({ filePath: srv.scorerFile });
});
after(async () => { await srv?.stop(); });

/** Ids of the server's jobs on `workspace` (every test uses its own). */
async function jobsIn(workspace) {
  const ids = [];
  for await (const j of client.iterJobs({}, 200)) if (j.workspacePath === workspace) ids.push(j.jobId);
  return ids;
}

/**
 * A fetch that sends every request to the real server but loses the answer to the
 * first one, as a dropped connection does: after the answer arrived, or (`early`)
 * as soon as `early()` says the server is working on it.
 */
function loseFirstAnswer(early) {
  const log = { statuses: [], keys: [], background: [] };
  log.fetch = async (input, init) => {
    log.keys.push(init.headers['Idempotency-Key'] ?? null);
    if (log.keys.length > 1) {
      const response = await fetch(input, init);
      log.statuses.push(response.status);
      return response;
    }
    const sent = fetch(input, init).then((r) => r.text());
    if (early) {
      log.background.push(sent);
      const deadline = Date.now() + 20_000;
      while (!(await early()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    } else {
      await sent;
    }
    log.statuses.push('lost');
    throw new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } });
  };
  return log;
}

test('a repeat with the same key gets the first job and creates no second one', async () => {
  const ws = srv.ws(uid('idem-repeat'));
  const key = uid('key');
  const first = await client.submitJob({ workspacePath: ws, async: true }, { idempotencyKey: key });
  const again = await client.submitJob({ workspacePath: ws, async: true }, { idempotencyKey: key });
  assert.equal(again.jobId, first.jobId);
  assert.equal(again.status, first.status);
  assert.deepEqual(await jobsIn(ws), [first.jobId]);
  const raw = await fetch(`${srv.url}/api/v1/jobs`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN_KEY}`, 'Content-Type': 'application/json', 'Idempotency-Key': key },
    body: JSON.stringify({ workspace_path: ws, async: true }),
  });
  assert.equal(raw.status, 202);
  assert.equal(raw.headers.get('idempotent-replayed'), 'true');
  assert.equal((await raw.json()).data.job_id, first.jobId);
});

test('the same key with another body is a Conflict on the Idempotency-Key field', async () => {
  const ws = srv.ws(uid('idem-other'));
  const key = uid('key');
  const first = await client.submitJob({ workspacePath: ws, async: true }, { idempotencyKey: key });
  await assert.rejects(
    client.submitJob({ workspacePath: ws, async: true, jobId: uid('x') }, { idempotencyKey: key }),
    (e) => e instanceof Conflict && e.field === 'Idempotency-Key' && e.status === 409 && !('retry' in e.details),
  );
  assert.deepEqual(await jobsIn(ws), [first.jobId]);
});

test('a batch repeat gets the first batch', async () => {
  const ws = srv.ws(uid('idem-batch'));
  const key = uid('key');
  const jobs = [{ workspacePath: ws }, { workspacePath: ws }];
  const first = await client.submitBatch(jobs, { idempotencyKey: key });
  const again = await client.submitBatch(jobs, { idempotencyKey: key });
  assert.equal(again.batchId, first.batchId);
  assert.deepEqual(again.jobIds, first.jobIds);
  assert.deepEqual((await jobsIn(ws)).sort(), [...first.jobIds].sort());
  await assert.rejects(client.submitBatch(jobs.slice(0, 1), { idempotencyKey: key }), Conflict);
});

test('a refused submit releases its key', async () => {
  const ws = srv.ws(uid('idem-refused'));
  const key = uid('key');
  await assert.rejects(client.submitJob({ workspacePath: ws, scorer: 'nope', async: true }, { idempotencyKey: key }), ScorerNotFound);
  const job = await client.submitJob({ workspacePath: ws, async: true }, { idempotencyKey: key });
  assert.deepEqual(await jobsIn(ws), [job.jobId]);
});

test('a submit whose answer was lost is retried and creates one job', async () => {
  const ws = srv.ws(uid('idem-drop'));
  const key = uid('key');
  const lossy = loseFirstAnswer();
  const c = new AutoScorerClient({ baseUrl: srv.url, apiKey: ADMIN_KEY, retries: fast, fetch: lossy.fetch });
  const job = await c.submitJob({ workspacePath: ws, async: true }, { idempotencyKey: key });
  assert.deepEqual(lossy.statuses, ['lost', 202]);
  assert.deepEqual(lossy.keys, [key, key]);
  assert.deepEqual(await jobsIn(ws), [job.jobId]);
});

test('autoIdempotency makes a plain synchronous submit safe to retry', async () => {
  const ws = srv.ws(uid('idem-auto'));
  const lossy = loseFirstAnswer();
  const c = new AutoScorerClient({
    baseUrl: srv.url, apiKey: ADMIN_KEY, retries: fast, fetch: lossy.fetch, autoIdempotency: true,
  });
  const job = await c.submitJob({ workspacePath: ws });
  assert.equal(job.status, 'completed');
  assert.deepEqual(lossy.statuses, ['lost', 200]);
  assert.match(lossy.keys[0], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(lossy.keys[1], lossy.keys[0]);
  assert.deepEqual(await jobsIn(ws), [job.jobId]);
});

test('without a key a lost answer is an error, though the job was created', async () => {
  const ws = srv.ws(uid('idem-nokey'));
  const lossy = loseFirstAnswer();
  const c = new AutoScorerClient({ baseUrl: srv.url, apiKey: ADMIN_KEY, retries: fast, fetch: lossy.fetch });
  await assert.rejects(c.submitJob({ workspacePath: ws, async: true }), TransportError);
  assert.deepEqual(lossy.statuses, ['lost']);
  assert.equal((await jobsIn(ws)).length, 1);
});

test('a retry while the first request still runs waits (409 retry) for its answer', async () => {
  const ws = srv.ws(uid('idem-busy'), { scorer: 'js_slow', task_type: 'custom' });
  const key = uid('key');
  const lossy = loseFirstAnswer(async () => (await jobsIn(ws)).length > 0);
  const c = new AutoScorerClient({
    baseUrl: srv.url, apiKey: ADMIN_KEY, fetch: lossy.fetch,
    retries: { maxRetries: 30, backoffBase: 100, backoffMax: 400 },
  });
  const job = await c.submitJob(
    { workspacePath: ws, config: { scorer_params: { seconds: 1.5 } } }, { idempotencyKey: key },
  );
  await Promise.all(lossy.background);
  assert.equal(job.status, 'completed');
  assert.equal(lossy.statuses[0], 'lost');
  assert.equal(lossy.statuses.at(-1), 200);
  assert.deepEqual([...new Set(lossy.statuses.slice(1, -1))], [409]);
  assert.deepEqual(await jobsIn(ws), [job.jobId]);
});
