// Each method's request and the contract's example answers, over real HTTP (scripted server).
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';

import { AutoScorerClient } from '../dist/esm/index.js';
import { startScripted } from '../testlib/scripted.mjs';

let srv;
let client;
before(async () => {
  srv = await startScripted();
  client = new AutoScorerClient({ baseUrl: srv.url, apiKey: 'k', retries: 0 });
});
after(async () => { await srv.close(); });
beforeEach(() => { srv.requests.length = 0; });

const RESULT = { summary: { score: 0.85, rank: 'A', pass: true }, metrics: { f1_macro: 0.85 } };
const ok = (data) => ({ success: true, data, meta: { request_id: 'r' } });
const sent = () => {
  const r = srv.requests.at(-1);
  const url = new URL(r.url, srv.url);
  return { method: r.method, path: url.pathname, query: Object.fromEntries(url.searchParams), body: r.body, auth: r.headers.authorization };
};

const CASES = [
  ['submitJob', (c) => c.submitJob({ jobId: 'j', taskType: 'classification', workspacePath: '/w', config: { time_limit: 1800 } }),
    'POST', '/api/v1/jobs', {}, { job_id: 'j', task_type: 'classification', workspace_path: '/w', config: { time_limit: 1800 } },
    { job_id: 'j', status: 'completed', execution_time: 45.6, result: RESULT },
    (r) => r.jobId === 'j' && r.executionTime === 45.6 && r.result.metrics.f1_macro === 0.85],
  ['submitBatch', (c) => c.submitBatch([{ jobId: 'a', workspacePath: '/a' }], { async: true, maxParallel: 5 }),
    'POST', '/api/v1/jobs/batch', {}, { jobs: [{ job_id: 'a', workspace_path: '/a' }], async: true, max_parallel: 5 },
    { batch_id: 'b1', submitted_jobs: 1, status: 'processing', jobs: [{ job_id: 'a', status: 'submitted' }] },
    (r) => r.batchId === 'b1' && r.jobIds[0] === 'a'],
  ['getJobStatus', (c) => c.getJobStatus('job/1'), 'GET', '/api/v1/jobs/job%2F1/status', {}, null,
    { job_id: 'job/1', status: 'running', progress: 0.75, logs_available: true, resources: { cpu_usage: 1.8 } },
    (r) => r.progress === 0.75 && r.logsAvailable && r.resources.cpuUsage === 1.8],
  ['getJobResult', (c) => c.getJobResult('j', { includeLogs: true }), 'GET', '/api/v1/jobs/j/result', { include_logs: 'true' }, null,
    { job_id: 'j', status: 'completed', result: RESULT, logs: [{ timestamp: 't', level: 'INFO', message: 'm' }] },
    (r) => r.summary.score === 0.85 && r.result.summary.pass === true && r.logs[0].message === 'm'],
  ['getJobResult', (c) => c.getJobResult('k'), 'GET', '/api/v1/jobs/k/result', {}, null,
    { job_id: 'k', status: 'cancelled', result: {} }, // a job cancelled before it ran has no result
    (r) => r.status === 'cancelled' && r.summary.score === null && r.result.summary.score === null
      && Object.keys(r.metrics).length === 0 && Object.keys(r.result.metrics).length === 0],
  ['getJobLogs', (c) => c.getJobLogs('j', { level: 'info', tail: 3 }), 'GET', '/api/v1/jobs/j/logs', { level: 'info', tail: '3' }, null,
    { job_id: 'j', logs: [], total_lines: 156, has_more: true }, (r) => r.totalLines === 156 && r.hasMore],
  ['cancelJob', (c) => c.cancelJob('j'), 'DELETE', '/api/v1/jobs/j', {}, null,
    { job_id: 'j', status: 'cancelled', cancelled_at: 't' }, (r) => r.cancelledAt === 't'],
  ['cancelBatch', (c) => c.cancelBatch(['a'], { reason: 'r' }), 'DELETE', '/api/v1/jobs/batch', {}, { job_ids: ['a'], reason: 'r' },
    { cancelled_jobs: [{ job_id: 'a', status: 'cancelled' }], failed_cancellations: [], total_cancelled: 1 },
    (r) => r.totalCancelled === 1 && r.cancelledJobs[0].jobId === 'a'],
  ['batchStatus', (c) => c.batchStatus(['a'], { includeProgress: true }), 'POST', '/api/v1/jobs/batch/status', {},
    { job_ids: ['a'], include_progress: true }, { jobs: [{ job_id: 'a', status: 'completed' }], summary: { total: 1 } },
    (r) => r.jobs[0].jobId === 'a' && r.summary.total === 1],
  ['listJobs', (c) => c.listJobs({ status: 'completed', taskType: 'classification', limit: 2, offset: 4, sort: 'created_at', order: 'desc' }),
    'GET', '/api/v1/jobs', { status: 'completed', task_type: 'classification', limit: '2', offset: '4', sort: 'created_at', order: 'desc' }, null,
    { jobs: [], pagination: { total: 5, limit: 2, offset: 4, has_next: false, has_prev: true } }, (r) => r.pagination.hasPrev],
  ['scorers.list', (c) => c.scorers.list({ taskType: 'classification' }), 'GET', '/api/v1/scorers', { task_type: 'classification' }, null,
    [{ name: 'f1', task_type: 'classification', supported_formats: ['csv'], parameters: { zero_division: { type: 'number' } } }],
    (r) => r[0].taskType === 'classification' && r[0].supportedFormats[0] === 'csv' && r[0].parameters.zero_division.type === 'number'],
  ['scorers.get', (c) => c.scorers.get('f1', { includeExamples: true }), 'GET', '/api/v1/scorers/f1', { include_examples: 'true' }, null,
    { name: 'f1', usage_count: 3 }, (r) => r.usageCount === 3],
  ['scorers.test', (c) => c.scorers.test('f1', { workspacePath: '/w', parameters: { zero_division: 0 }, validateOnly: true }),
    'POST', '/api/v1/scorers/f1/test', {}, { workspace_path: '/w', parameters: { zero_division: 0 }, validate_only: true },
    { scorer: 'f1', test_status: 'validated', validation: { workspace_valid: true } }, (r) => r.testStatus === 'validated'],
  ['scorers.load', (c) => c.scorers.load({ filePath: '/s.py', autoWatch: true }), 'POST', '/api/v1/scorers/load', {},
    { file_path: '/s.py', auto_watch: true }, { loaded_scorers: [{ name: 'x', file_path: '/s.py' }], total_loaded: 1 },
    (r) => r.loadedScorers[0].filePath === '/s.py'],
  ['scorers.reload', (c) => c.scorers.reload({ filePath: '/s.py', scorerName: 'x' }), 'POST', '/api/v1/scorers/reload', {},
    { file_path: '/s.py', scorer_name: 'x' }, { reloaded_scorers: [{ name: 'x', new_version: '1.1.0' }], total_reloaded: 1 },
    (r) => r.reloadedScorers[0].newVersion === '1.1.0'],
  ['scorers.watch', (c) => c.scorers.watch({ filePath: '/s.py', checkInterval: 2 }), 'POST', '/api/v1/scorers/watch', {},
    { file_path: '/s.py', check_interval: 2 }, { file_path: '/s.py', watch_started: true }, (r) => r.watchStarted],
  ['scorers.unwatch', (c) => c.scorers.unwatch('/s.py'), 'DELETE', '/api/v1/scorers/watch', { file_path: '/s.py' }, null,
    { file_path: '/s.py', watch_stopped: true }, (r) => r.watchStopped],
  ['scorers.watchStatus', (c) => c.scorers.watchStatus(), 'GET', '/api/v1/scorers/watch', {}, null,
    { watched_files: [{ file_path: '/s.py', total_reloads: 2 }], total_watched: 1 }, (r) => r.watchedFiles[0].totalReloads === 2],
  ['workspaces.validate', (c) => c.workspaces.validate({ workspacePath: '/w', strictMode: true }), 'POST', '/api/v1/workspaces/validate', {},
    { workspace_path: '/w', strict_mode: true }, { workspace_path: '/w', validation_status: 'valid', checks: {}, errors: [] },
    (r) => r.validationStatus === 'valid'],
  ['workspaces.init', (c) => c.workspaces.init({ workspacePath: '/n', template: 'classification' }), 'POST', '/api/v1/workspaces/init', {},
    { workspace_path: '/n', template: 'classification' }, { workspace_path: '/n', created_files: ['meta.json'] },
    (r) => r.createdFiles[0] === 'meta.json'],
  ['config.get', (c) => c.config.get({ section: 'api' }), 'GET', '/api/v1/config', { section: 'api' }, null,
    { api: { max_body_bytes: 10 } }, (r) => r.api.max_body_bytes === 10],
  ['config.update', (c) => c.config.update('api', { max_body_bytes: 5 }, { restartRequired: false }), 'PUT', '/api/v1/config', {},
    { section: 'api', config: { max_body_bytes: 5 }, restart_required: false },
    { updated_section: 'api', changes: { max_body_bytes: { old: 10, new: 5 } }, restart_required: false },
    (r) => r.updatedSection === 'api' && r.changes.max_body_bytes.new === 5],
  ['health', (c) => c.health(), 'GET', '/health', {}, null, { status: 'healthy' }, (r) => r.status === 'healthy'],
  ['status', (c) => c.status(), 'GET', '/api/v1/status', {}, null, { system: {}, metrics: { total_jobs: 3 } }, (r) => r.metrics.total_jobs === 3],
];

for (const [name, call, method, path, query, body, data, check] of CASES) {
  test(`${name} follows the contract`, async () => {
    srv.reply(200, ok(data));
    const answer = await call(client);
    assert.deepEqual(sent(), { method, path, query, body, auth: 'Bearer k' });
    assert.ok(check(answer), JSON.stringify(answer));
  });
}

test('streamLogs reads NDJSON until the stream ends', async () => {
  srv.replyRaw(200, '{"timestamp":"t1","level":"INFO","message":"one"}\n\n{"timestamp":"t2","level":"INFO","message":"two"}', 'application/x-ndjson');
  const got = [];
  await client.streamLogs('j', (e) => got.push(e.message));
  assert.deepEqual(got, ['one', 'two']);
  assert.deepEqual(sent().query, { follow: 'true' });
});

test('streamLogs reads server-sent events', async () => {
  srv.replyRaw(200, 'event: log\ndata: {"timestamp":"t1","level":"INFO","message":"one"}\n\n: ping\n\n', 'text/event-stream');
  const got = [];
  await client.streamLogs('j', (e) => got.push(e.message));
  assert.deepEqual(got, ['one']);
});

test('streamLogs polls with since when the server does not stream', async () => {
  const a = { timestamp: 't1', level: 'INFO', message: 'a' };
  const b = { timestamp: 't2', level: 'INFO', message: 'b' };
  srv.reply(200, ok({ job_id: 'j', logs: [a] })); // the follow request, answered plainly
  srv.reply(200, ok({ job_id: 'j', status: 'running' }));
  srv.reply(200, ok({ job_id: 'j', logs: [a] }));
  srv.reply(200, ok({ job_id: 'j', status: 'completed' }));
  srv.reply(200, ok({ job_id: 'j', logs: [a, b] }));
  const got = [];
  await client.streamLogs('j', (e) => got.push(e.message), { pollInterval: 10 });
  assert.deepEqual(got, ['a', 'b']);
  const sinces = srv.requests.map((r) => new URL(r.url, srv.url).searchParams.get('since'));
  assert.deepEqual(sinces, [null, null, null, null, 't1']);
});

test('iterJobs follows hasNext', async () => {
  for (const [offset, ids, more] of [[0, ['a', 'b'], true], [2, ['c'], false]]) {
    srv.reply(200, ok({ jobs: ids.map((jobId) => ({ job_id: jobId })), pagination: { total: 3, limit: 2, offset, has_next: more } }));
  }
  const got = [];
  for await (const j of client.iterJobs({ status: 'completed' }, 2)) got.push(j.jobId);
  assert.deepEqual(got, ['a', 'b', 'c']);
});
