// Every method of the JS client against the real Python server.
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';

import {
  AutoScorerClient, Conflict, Forbidden, InvalidParameter, MissingParameter, ResourceNotFound,
  ScorerNotFound, Unauthorized, WaitTimeout,
} from '../dist/esm/index.js';
import { ADMIN_KEY, READER_KEY, startServer } from '../testlib/server.mjs';

const F1_MACRO = 2 / 3;
let srv;
let client;
const uid = (p) => `${p}-${Math.random().toString(16).slice(2, 10)}`;
const slow = (seconds) => ({ config: { scorer_params: { seconds } } });

before(async () => {
  srv = await startServer();
  client = new AutoScorerClient({ baseUrl: srv.url, apiKey: ADMIN_KEY });
  const loaded = await client.scorers.load({ filePath: srv.scorerFile });
  assert.deepEqual(loaded.loadedScorers.map((s) => s.name), ['js_slow']);
});
after(async () => { await srv?.stop(); });

test('health and status', async () => {
  const health = await client.health();
  assert.equal(health.status, 'healthy');
  const status = await client.status();
  assert.ok('total_jobs' in status.metrics);
});

test('synchronous submit answers with the result', async () => {
  const job = await client.submitJob({ jobId: uid('js-sync'), workspacePath: srv.ws('sync') });
  assert.equal(job.status, 'completed');
  assert.ok(Math.abs(job.result.summary.score - F1_MACRO) < 1e-12);
  assert.ok('f1_macro' in job.result.metrics); // metric names are not camelCased
});

test('async submit, waitForCompletion, status, result, logs', async () => {
  const job = await client.submitJob({ workspacePath: srv.ws('async'), async: true });
  const outcome = await client.waitForCompletion(job.jobId, { timeout: 60000 });
  assert.equal(outcome.success, true);
  assert.ok(Math.abs(outcome.data.summary.score - F1_MACRO) < 1e-12);
  const status = await client.getJobStatus(job.jobId);
  assert.equal(status.status, 'completed');
  assert.equal(status.progress, 1);
  assert.ok(status.createdAt);
  const result = await client.getJobResult(job.jobId, { includeLogs: true });
  assert.equal(result.summary.score, result.result.summary.score);
  assert.ok(result.logs.length > 0);
  const logs = await client.getJobLogs(job.jobId, { tail: 1 });
  assert.equal(logs.jobId, job.jobId);
  assert.equal(logs.logs.length, 1);
});

test('a failed job resolves with success false and the error code', async () => {
  const job = await client.submitJob({ workspacePath: srv.ws('bad', { pred: 'id,oops\n1,a\n' }), async: true });
  const outcome = await client.waitForCompletion(job.jobId, { timeout: 60000 });
  assert.equal(outcome.success, false);
  assert.equal(outcome.errors[0].code, 'MISSING_COLUMN');
});

test('streamLogs follows until the job ends', async () => {
  const ws = srv.ws('slow-stream', { scorer: 'js_slow', task_type: 'custom' });
  const job = await client.submitJob({ workspacePath: ws, async: true, ...slow(1.0) });
  const seen = [];
  await client.streamLogs(job.jobId, (entry) => seen.push(entry), { timeout: 60000 });
  assert.equal((await client.getJobStatus(job.jobId)).status, 'completed');
  const all = (await client.getJobLogs(job.jobId)).logs;
  assert.deepEqual(seen.map((e) => e.message), all.map((e) => e.message));
  assert.ok(seen.length >= 2);
});

test('waitForCompletion gives up with WaitTimeout', async () => {
  const ws = srv.ws('slow-wait', { scorer: 'js_slow', task_type: 'custom' });
  const job = await client.submitJob({ workspacePath: ws, async: true, ...slow(3) });
  await assert.rejects(client.waitForCompletion(job.jobId, { timeout: 300, pollInterval: 100 }), WaitTimeout);
  await client.cancelJob(job.jobId);
});

test('cancel, batch submit, batch status, batch cancel', async () => {
  const ws = srv.ws('slow-batch', { scorer: 'js_slow', task_type: 'custom' });
  const ids = [uid('jb'), uid('jb'), uid('jb')];
  const batch = await client.submitBatch(ids.map((jobId) => ({ jobId, workspacePath: ws, ...slow(5) })), { async: true });
  assert.deepEqual(batch.jobIds, ids);
  const st = await client.batchStatus(ids, { includeProgress: true });
  assert.deepEqual(st.jobs.map((j) => j.jobId), ids);
  assert.equal(st.summary.total, 3);
  while ((await client.getJobStatus(ids[0])).status !== 'running') await new Promise((r) => setTimeout(r, 50));
  assert.equal((await client.cancelJob(ids[0])).status, 'cancelled');
  await assert.rejects(client.cancelJob(ids[0]), Conflict);
  const out = await client.cancelBatch(ids.slice(1), { reason: 'test over' });
  assert.equal(out.totalCancelled, 2);
});

test('listJobs and iterJobs walk every page', async () => {
  for (let i = 0; i < 3; i++) await client.submitJob({ workspacePath: srv.ws('page') });
  const first = await client.listJobs({ limit: 2 });
  assert.equal(first.jobs.length, 2);
  assert.equal(first.pagination.hasNext, true);
  const ids = [];
  for await (const j of client.iterJobs({}, 2)) ids.push(j.jobId);
  assert.equal(ids.length, first.pagination.total);
  assert.equal(new Set(ids).size, ids.length);
});

test('scorers: list, get, test, reload, watch, unwatch', async () => {
  const names = (await client.scorers.list()).map((s) => s.name);
  assert.ok(names.includes('classification_f1') && names.includes('js_slow'));
  const info = await client.scorers.get('classification_f1');
  assert.ok(info.parameters.average.choices.includes('macro'));
  const t = await client.scorers.test('classification_f1', { workspacePath: srv.ws('scorer-test'), parameters: { average: 'macro' } });
  assert.equal(t.testStatus, 'passed');
  assert.ok(Math.abs(t.result.summary.score - F1_MACRO) < 1e-12);
  assert.equal((await client.scorers.reload({ filePath: srv.scorerFile })).totalReloaded, 0); // unchanged
  appendFileSync(srv.scorerFile, '\n# touched by the JS test\n');
  const reloaded = await client.scorers.reload({ filePath: srv.scorerFile });
  assert.equal(reloaded.totalReloaded, 1);
  assert.ok(reloaded.reloadedScorers[0].newVersion);
  assert.equal((await client.scorers.watch({ filePath: srv.scorerFile, checkInterval: 0.5 })).watchStarted, true);
  assert.ok((await client.scorers.watchStatus()).watchedFiles.some((w) => w.filePath === srv.scorerFile));
  assert.equal((await client.scorers.unwatch(srv.scorerFile)).watchStopped, true);
});

test('workspaces: validate and init', async () => {
  const ok = await client.workspaces.validate({ workspacePath: srv.ws('validate') });
  assert.equal(ok.validationStatus, 'valid');
  const target = join(srv.workspaces, 'fresh');
  const made = await client.workspaces.init({ workspacePath: target, template: 'classification' });
  assert.ok(made.createdFiles.includes('meta.json'));
  assert.ok(existsSync(join(target, 'meta.json')));
});

test('config: get and update', async () => {
  const cfg = await client.config.get();
  assert.ok('executor' in cfg && 'logging' in cfg);
  const upd = await client.config.update('logging', { level: 'DEBUG' });
  assert.equal(upd.updatedSection, 'logging');
  assert.equal(upd.changes.level.new, 'DEBUG');
  await client.config.update('logging', { level: 'INFO' });
});

test('downloadArtifact returns the bytes the job published', async () => {
  const job = await client.submitJob({ jobId: uid('js-art'), workspacePath: srv.ws('art') });
  assert.equal(job.status, 'completed');
  const res = await client.getJobResult(job.jobId, { includeArtifacts: true });
  const listed = res.result.artifacts;
  assert.deepEqual(Object.keys(listed).sort(), ['confusion_matrix', 'confusion_matrix_json', 'error_cases', 'per_class']);
  const reader = new AutoScorerClient({ baseUrl: srv.url, apiKey: READER_KEY });
  for (const [name, entry] of Object.entries(listed)) {
    const onDisk = new Uint8Array(readFileSync(entry.path));
    const got = await reader.downloadArtifact(job.jobId, name);
    assert.deepEqual(got.data, onDisk);
    assert.equal(got.size, entry.size);
    assert.equal(got.contentType.split(';')[0], entry.type);
    assert.equal(got.filename, basename(entry.path));
    const byFile = await client.downloadArtifact(job.jobId, basename(entry.path));
    assert.deepEqual(byFile.data, onDisk);
  }
  assert.deepEqual([...(await client.downloadArtifact(job.jobId, 'confusion_matrix')).data.slice(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  await assert.rejects(client.downloadArtifact(job.jobId, 'nope'), ResourceNotFound);
  await assert.rejects(client.downloadArtifact(job.jobId, '../meta.json'), ResourceNotFound);
  await assert.rejects(new AutoScorerClient({ baseUrl: srv.url }).downloadArtifact(job.jobId, 'per_class'), Unauthorized);
});

test('API errors become the classes named after their codes', async () => {
  await assert.rejects(client.scorers.get('nope'), (e) => e instanceof ScorerNotFound && e.status === 404 && Boolean(e.requestId));
  await assert.rejects(client.getJobStatus('nope'), (e) => e instanceof ResourceNotFound && e.code === 'RESOURCE_NOT_FOUND');
  await assert.rejects(new AutoScorerClient({ baseUrl: srv.url }).listJobs(), Unauthorized);
  const reader = new AutoScorerClient({ baseUrl: srv.url, apiKey: READER_KEY });
  await assert.rejects(reader.submitJob({ workspacePath: srv.ws('r'), async: true }), Forbidden);
  await assert.rejects(client.submitJob({ taskType: 'classification', async: true }), MissingParameter);
  await assert.rejects(client.config.update('logging', { no_such_setting: 1 }), (e) => e instanceof InvalidParameter && e.status === 400);
  const dup = srv.ws('dup-ids', { pred: 'id,label\n1,a\n1,b\n2,b\n3,a\n4,b\n5,a\n6,b\n' });
  const failed = await client.scorers.test('classification_f1', { workspacePath: dup });
  assert.equal(failed.testStatus, 'failed');
  assert.equal(failed.error.code, 'DUPLICATE_ID');
});
