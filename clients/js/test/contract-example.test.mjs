// The contract's JavaScript SDK example ("SDK 和客户端库"), run against the real server.
// Changed only where it cannot run as written: the base URL, the API key and the
// workspace path point at the test server (the contract's are placeholders), and
// the final streamLogs promise is awaited so the test ends after the stream does.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { ADMIN_KEY, startServer } from '../testlib/server.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.stop(); });

test('the contract example runs as written', async () => {
  const printed = [];
  const console = { log: (line) => printed.push(line) };
  const baseUrl = srv.url;
  const workspacePath = srv.ws('example');

  // -- from the contract ------------------------------------------------------------
  const { AutoScorerClient } = await import('autoscorer-js-client');

  const client = new AutoScorerClient({
    baseUrl: baseUrl,
    apiKey: ADMIN_KEY  // 可选
  });

  // 提交任务
  const job = await client.submitJob({
    jobId: 'js-test-001',
    taskType: 'classification',
    scorer: 'classification_f1',
    workspacePath: workspacePath
  });

  // 监控状态
  const status = await client.getJobStatus(job.jobId);
  console.log(`Status: ${status.status}, Progress: ${status.progress}%`);

  // 获取结果
  if (status.status === 'completed') {
    const result = await client.getJobResult(job.jobId);
    console.log(`Score: ${result.summary.score}`);
  }

  // 流式日志
  const streaming = client.streamLogs(job.jobId, (logEntry) => {
    console.log(`[${logEntry.timestamp}] ${logEntry.level}: ${logEntry.message}`);
  });
  // -- end of the contract's example ------------------------------------------------

  await streaming;
  assert.equal(printed[0], 'Status: completed, Progress: 1%');
  assert.match(printed[1], /^Score: 0\.6666666/);
  assert.ok(printed.length > 2 && printed.slice(2).every((l) => /^\[.+\] [A-Z]+: /.test(l)));
});
