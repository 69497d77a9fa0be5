/** The AutoScorer client: every operation of the REST API, camelCase. */

import { camelize } from './case.js';
import { WaitTimeout, type ErrorDetail } from './errors.js';
import { Http, type Call, type FetchLike, apiError, readJson, sleep } from './http.js';
import { IDEMPOTENCY_HEADER, newIdempotencyKey } from './idempotency.js';
import { LogCursor, PollSchedule, isStream, parseStreamLine, readLines } from './logs.js';
import { Config, Scorers, Workspaces } from './resources.js';
import { RetryPolicy, type RetryOptions } from './retry.js';
import type {
  ArtifactDownload,
  BatchCancelled,
  BatchStatus,
  BatchSubmitted,
  CancelledJob,
  Health,
  Job,
  JobFilters,
  JobList,
  JobLogs,
  JobOutcome,
  JobRequest,
  JobResult,
  JobStatus,
  JobSummary,
  LogEntry,
  ResultData,
  SystemStatus,
} from './types.js';

export interface ClientOptions {
  /** Default http://localhost:8000. */
  baseUrl?: string;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Per-request time-out in ms (default 30000; 0 = none). */
  timeout?: number;
  /** A retry count or options (default 3 retries). */
  retries?: number | RetryOptions;
  headers?: Record<string, string>;
  /** Injectable fetch (default: the global one). */
  fetch?: FetchLike;
  /**
   * Give every submitJob/submitBatch call without an `idempotencyKey` a fresh random
   * one (default false), so every submit is safe to retry.
   */
  autoIdempotency?: boolean;
}

export interface SubmitOptions {
  /** ms for this request (default: 1 hour for a synchronous submit). */
  timeout?: number;
  /**
   * Sent as the `Idempotency-Key` header: a repeat with the same key and body gets the
   * first answer instead of a second job, so the submit is retried on 5xx answers and
   * lost connections.
   */
  idempotencyKey?: string;
}

export interface BatchOptions {
  async?: boolean;
  maxParallel?: number;
  /** As in {@link SubmitOptions.idempotencyKey}. */
  idempotencyKey?: string;
}

export interface LogOptions {
  level?: string;
  since?: string;
  tail?: number;
}

export interface FollowOptions {
  level?: string;
  /** First poll interval in ms when the server does not stream (default 500). */
  pollInterval?: number;
  /** Give up after this many ms (default: follow until the job ends). */
  timeout?: number;
  signal?: AbortSignal;
}

export interface WaitOptions {
  /** ms, default 300000; null waits forever. */
  timeout?: number | null;
  /** First poll interval in ms (default 500), growing to `maxInterval` (default 5000). */
  pollInterval?: number;
  maxInterval?: number;
  signal?: AbortSignal;
}

const API = '/api/v1';
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
/** A synchronous submit keeps the connection open while the job runs. */
const SYNC_SUBMIT_TIMEOUT = 3_600_000;

const seg = encodeURIComponent;

function withResultFields(data: JobResult): JobResult {
  return data.result ? { ...data.result, ...data } : data;
}

export class AutoScorerClient {
  readonly scorers: Scorers;
  readonly workspaces: Workspaces;
  readonly config: Config;
  private readonly http: Http;
  private readonly autoIdempotency: boolean;

  constructor(options: ClientOptions = {}) {
    this.autoIdempotency = options.autoIdempotency ?? false;
    const retries = options.retries ?? 3;
    const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
    if (options.apiKey) headers.Authorization = `Bearer ${options.apiKey}`;
    const fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.http = new Http({
      baseUrl: (options.baseUrl ?? 'http://localhost:8000').replace(/\/+$/, ''),
      apiKey: options.apiKey,
      timeout: options.timeout ?? 30_000,
      retry: new RetryPolicy(typeof retries === 'number' ? { maxRetries: retries } : retries),
      headers,
      fetch: fetchFn,
    });
    this.scorers = new Scorers(this.http);
    this.workspaces = new Workspaces(this.http);
    this.config = new Config(this.http);
  }

  get baseUrl(): string {
    return this.http.options.baseUrl;
  }

  /**
   * Submit a job. With `async: true` it answers at once (normally status `queued`);
   * otherwise with the result. A submit with a `jobId` or an `idempotencyKey` is
   * retried on 5xx answers and lost connections.
   */
  submitJob(job: JobRequest, options: SubmitOptions = {}): Promise<Job> {
    const timeout = options.timeout ?? (job.async ? undefined : SYNC_SUBMIT_TIMEOUT);
    const key = this.submitKey(options.idempotencyKey);
    const call: Call = {
      method: 'POST', path: `${API}/jobs`, body: job, timeout, headers: keyHeader(key),
    };
    return this.http.request<Job>({ ...call, idempotent: Boolean(job.jobId || key) });
  }

  /** Submit several jobs, all or nothing; `jobIds` lists them. */
  async submitBatch(jobs: JobRequest[], options: BatchOptions = {}): Promise<BatchSubmitted> {
    const body = { jobs, async: options.async, maxParallel: options.maxParallel };
    const key = this.submitKey(options.idempotencyKey);
    const everyId = jobs.length > 0 && jobs.every((j) => Boolean(j.jobId));
    const data = await this.http.request<BatchSubmitted>({
      method: 'POST',
      path: `${API}/jobs/batch`,
      body,
      idempotent: everyId || Boolean(key),
      headers: keyHeader(key),
    });
    return { ...data, jobIds: data.jobs.map((j) => j.jobId) };
  }

  /** The key of one submit call: the caller's, else a fresh one with `autoIdempotency`. */
  private submitKey(given: string | undefined): string | undefined {
    return given ?? (this.autoIdempotency ? newIdempotencyKey() : undefined);
  }

  /** State, progress (0..1) and timestamps of a job. */
  getJobStatus(jobId: string): Promise<JobStatus> {
    return this.http.request({ method: 'GET', path: `${API}/jobs/${seg(jobId)}/status` });
  }

  /** The result of a finished job: `summary`, `metrics`, ... also under `result`. */
  async getJobResult(
    jobId: string,
    options: { includeArtifacts?: boolean; includeLogs?: boolean } = {},
  ): Promise<JobResult> {
    const query = { include_artifacts: options.includeArtifacts, include_logs: options.includeLogs };
    const path = `${API}/jobs/${seg(jobId)}/result`;
    return withResultFields(await this.http.request<JobResult>({ method: 'GET', path, query }));
  }

  /** One page of a job's structured logs. */
  getJobLogs(jobId: string, options: LogOptions = {}): Promise<JobLogs> {
    const path = `${API}/jobs/${seg(jobId)}/logs`;
    return this.http.request({ method: 'GET', path, query: { ...options } });
  }

  /** Call `onEntry` for every log entry as it is written; resolves when the job ends. */
  async streamLogs(
    jobId: string,
    onEntry: (entry: LogEntry) => void,
    options: FollowOptions = {},
  ): Promise<void> {
    for await (const entry of this.followLogs(jobId, options)) onEntry(entry);
  }

  /** The same as streamLogs, as an async iterator. */
  async *followLogs(jobId: string, options: FollowOptions = {}): AsyncGenerator<LogEntry> {
    const { level, signal } = options;
    const path = `${API}/jobs/${seg(jobId)}/logs`;
    const call: Call = { method: 'GET', path, query: { level, follow: true }, timeout: 0 };
    const response = await this.http.send(call, signal);
    if (response.ok && response.body && isStream(response.headers.get('content-type'))) {
      for await (const line of readLines(response.body)) {
        const entry = parseStreamLine(line);
        if (entry) yield entry;
      }
      return;
    }
    await response.body?.cancel();
    yield* this.pollLogs(jobId, options);
  }

  private async *pollLogs(jobId: string, options: FollowOptions): AsyncGenerator<LogEntry> {
    const { level, signal } = options;
    const schedule = new PollSchedule(options.pollInterval ?? 500, 5000, options.timeout ?? null);
    const cursor = new LogCursor();
    for (;;) {
      const done = TERMINAL.has((await this.getJobStatus(jobId)).status);
      const page = await this.getJobLogs(jobId, { level, since: cursor.since ?? undefined });
      yield* cursor.fresh(page.logs);
      if (done) return;
      if (schedule.expired()) throw new WaitTimeout(`job ${jobId} still running`, jobId, null);
      await sleep(schedule.nextSleep(), signal);
    }
  }

  /** Poll until the job ends; `success` is true only for a completed job. */
  async waitForCompletion(jobId: string, options: WaitOptions = {}): Promise<JobOutcome> {
    const timeout = options.timeout === undefined ? 300_000 : options.timeout;
    const schedule = new PollSchedule(options.pollInterval ?? 500, options.maxInterval ?? 5000, timeout);
    let status = await this.getJobStatus(jobId);
    while (!TERMINAL.has(status.status)) {
      if (schedule.expired()) {
        throw new WaitTimeout(`job ${jobId} not finished (status ${status.status})`, jobId, status.status);
      }
      await sleep(schedule.nextSleep(), options.signal);
      status = await this.getJobStatus(jobId);
    }
    const path = `${API}/jobs/${seg(jobId)}/result`;
    const env = await this.http.envelope({ method: 'GET', path }, options.signal, false);
    const data = env.data ? withResultFields(camelize<JobResult>(env.data)) : null;
    if (status.status === 'completed' && env.success) return { success: true, data, errors: [] };
    return { success: false, data, errors: failureOf(status, env.errors, data?.result) };
  }

  /**
   * One artifact of a finished job, by its name (`confusion_matrix`) or file name
   * (`confusion_matrix.png`): its bytes, content type and file name.
   */
  async downloadArtifact(
    jobId: string,
    name: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<ArtifactDownload> {
    const path = `${API}/jobs/${seg(jobId)}/artifacts/${seg(name)}`;
    const response = await this.http.send({ method: 'GET', path, timeout: 0 }, options.signal);
    if (!response.ok) throw apiError(response, await readJson(response));
    const data = new Uint8Array(await response.arrayBuffer());
    return {
      name,
      filename: artifactFilename(response.headers.get('content-disposition'), name),
      contentType: response.headers.get('content-type') ?? 'application/octet-stream',
      size: data.byteLength,
      data,
    };
  }

  /** Cancel a queued or running job. */
  cancelJob(jobId: string): Promise<CancelledJob> {
    return this.http.request({ method: 'DELETE', path: `${API}/jobs/${seg(jobId)}` });
  }

  /** Cancel several jobs. */
  cancelBatch(jobIds: string[], options: { reason?: string } = {}): Promise<BatchCancelled> {
    const body = { jobIds, reason: options.reason };
    return this.http.request({ method: 'DELETE', path: `${API}/jobs/batch`, body });
  }

  /** States of several jobs in one call. */
  batchStatus(jobIds: string[], options: { includeProgress?: boolean } = {}): Promise<BatchStatus> {
    const body = { jobIds, includeProgress: options.includeProgress };
    return this.http.request({ method: 'POST', path: `${API}/jobs/batch/status`, body });
  }

  /** One page of jobs with `pagination`. */
  listJobs(filters: JobFilters = {}): Promise<JobList> {
    const { taskType, ...rest } = filters;
    return this.http.request({ method: 'GET', path: `${API}/jobs`, query: { ...rest, task_type: taskType } });
  }

  /** Every job matching `filters`, page after page. */
  async *iterJobs(filters: JobFilters = {}, pageSize = 50): AsyncGenerator<JobSummary> {
    let offset = filters.offset ?? 0;
    for (;;) {
      const page = await this.listJobs({ ...filters, limit: pageSize, offset });
      yield* page.jobs;
      if (!page.pagination.hasNext || page.jobs.length === 0) return;
      offset += page.jobs.length;
    }
  }

  /** GET /health. */
  health(): Promise<Health> {
    return this.http.request({ method: 'GET', path: '/health' });
  }

  /** GET /api/v1/status. */
  status(): Promise<SystemStatus> {
    return this.http.request({ method: 'GET', path: `${API}/status` });
  }
}

function keyHeader(key: string | undefined): Record<string, string> | undefined {
  return key === undefined ? undefined : { [IDEMPOTENCY_HEADER]: key };
}

function failureOf(
  status: JobStatus,
  errors: ErrorDetail[] | undefined,
  result: ResultData | null | undefined,
): ErrorDetail[] {
  if (errors && errors.length > 0) return errors;
  const reason = result?.error ?? status.error;
  if (reason) return [reason];
  const code = status.status === 'cancelled' ? 'CANCELLED' : 'EXECUTION_FAILED';
  return [{ code, message: `job ${status.jobId} ended ${status.status}` }];
}

/** The file name the server gave (`Content-Disposition`), its last path part only. */
function artifactFilename(header: string | null, fallback: string): string {
  const star = /filename\*=UTF-8''([^;]+)/i.exec(header ?? '');
  const plain = /filename="([^"]+)"/i.exec(header ?? '');
  const raw = star ? decodeURIComponent(star[1]) : plain ? plain[1] : fallback;
  const base = raw.split(/[\\/]/).pop() ?? '';
  return base && base !== '.' && base !== '..' ? base : fallback;
}
