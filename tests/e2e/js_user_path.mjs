// The JS SDK on the user's path, driven by tests/e2e/test_js_sdk.py against a live server.
// argv: dist index URL, server URL, API key, ok workspace, follow workspace.
// Prints one JSON document: what the SDK handed back (artifact bytes as base64).
const [indexUrl, baseUrl, apiKey, okWs, followWs] = process.argv.slice(2);
const { AutoScorerClient } = await import(indexUrl);
const client = new AutoScorerClient({ baseUrl, apiKey });
const NAMES = ['confusion_matrix', 'confusion_matrix_json', 'per_class', 'error_cases'];

const job = await client.submitJob({ workspacePath: okWs, async: true });
const outcome = await client.waitForCompletion(job.jobId, { timeout: 90_000, pollInterval: 100 });
const artifacts = {};
for (const name of NAMES) {
  const got = await client.downloadArtifact(job.jobId, name);
  artifacts[name] = { filename: got.filename, base64: Buffer.from(got.data).toString('base64') };
}

const followed = await client.submitJob({ workspacePath: followWs, async: true });
const arrivals = [];
for await (const entry of client.followLogs(followed.jobId)) {
  if (entry.message.startsWith('tick ')) {
    arrivals.push([entry.message, (await client.getJobStatus(followed.jobId)).status]);
  }
}
const health = await client.health();
console.log(JSON.stringify({
  health: health.status,
  success: outcome.success,
  score: outcome.data?.result?.summary?.score,
  artifacts,
  arrivals,
}));
