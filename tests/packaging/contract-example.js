import { AutoScorerClient } from 'autoscorer-js-client';

const client = new AutoScorerClient({
  baseUrl: 'http://localhost:8000',
  apiKey: 'your-api-key'  // 可选
});

// 提交任务
const job = await client.submitJob({
  jobId: 'js-test-001',
  taskType: 'classification',
  scorer: 'classification_f1',
  workspacePath: '/path/to/workspace'
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
client.streamLogs(job.jobId, (logEntry) => {
  console.log(`[${logEntry.timestamp}] ${logEntry.level}: ${logEntry.message}`);
});
