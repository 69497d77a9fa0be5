/** Shapes of the API's `data` objects, keys in camelCase (open maps keep server keys). */

import type { ErrorDetail } from './errors.js';

export type JobState = 'submitted' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface Summary {
  score: number | null;
  rank?: string | null;
  pass?: boolean | null;
  message?: string | null;
}

export interface ResultData {
  summary: Summary;
  metrics: Record<string, unknown>;
  artifacts?: Record<string, { path: string; size: number; type: string }>;
  timing?: Record<string, number>;
  resources?: Record<string, unknown>;
  versioning?: Record<string, unknown>;
  error?: ErrorDetail | null;
  [extra: string]: unknown;
}

export interface LogEntry {
  timestamp: string;
  level: string;
  component?: string;
  message: string;
}

export interface JobRequest {
  jobId?: string;
  taskType?: string;
  scorer?: string;
  workspacePath?: string;
  executor?: string;
  /** Run asynchronously (answer 202 at once, normally with status `queued`); server default false. */
  async?: boolean;
  /** time_limit, resources, scorer_params: sent as is (snake_case keys). */
  config?: Record<string, unknown>;
  [extra: string]: unknown;
}

export interface Job {
  jobId: string;
  status: JobState | string;
  message?: string;
  estimatedCompletion?: string;
  executionTime?: number;
  result?: ResultData | null;
  [extra: string]: unknown;
}

export interface JobStatus {
  jobId: string;
  status: JobState | string;
  progress: number | null;
  createdAt?: string;
  startedAt?: string | null;
  completedAt?: string | null;
  estimatedCompletion?: string | null;
  executor?: string | null;
  resources?: Record<string, unknown> | null;
  logsAvailable?: boolean;
  error?: ErrorDetail | null;
  [extra: string]: unknown;
}

/** The result data, with the fields of `result` (summary, metrics, ...) also at the top. */
export interface JobResult extends Partial<ResultData> {
  jobId: string;
  status: string;
  result: ResultData | null;
  logs?: LogEntry[];
}

export interface JobLogs {
  jobId: string;
  logs: LogEntry[];
  totalLines?: number;
  hasMore?: boolean;
}

export interface CancelledJob {
  jobId: string;
  status: string;
  cancelledAt?: string;
  reason?: string;
}

export interface JobSummary {
  jobId: string;
  status: string;
  taskType?: string | null;
  scorer?: string | null;
  createdAt?: string;
  startedAt?: string | null;
  completedAt?: string | null;
  executionTime?: number | null;
  score?: number | null;
  progress?: number | null;
  [extra: string]: unknown;
}

export interface Pagination {
  total: number;
  limit: number;
  offset: number;
  hasNext: boolean;
  hasPrev: boolean;
}

export interface JobList {
  jobs: JobSummary[];
  pagination: Pagination;
}

export interface JobFilters {
  status?: string;
  taskType?: string;
  scorer?: string;
  limit?: number;
  offset?: number;
  sort?: 'created_at' | 'updated_at' | 'job_id' | string;
  order?: 'asc' | 'desc';
}

export interface BatchSubmitted {
  batchId: string;
  submittedJobs: number;
  status: string;
  jobs: { jobId: string; status: string; [extra: string]: unknown }[];
  /** Convenience: the ids of `jobs`. */
  jobIds: string[];
}

export interface BatchStatus {
  jobs: { jobId: string; status: string; progress?: number | null; [extra: string]: unknown }[];
  summary: Record<string, number>;
}

export interface BatchCancelled {
  cancelledJobs: CancelledJob[];
  failedCancellations: { jobId: string; [extra: string]: unknown }[];
  totalCancelled: number;
}

/** What waitForCompletion resolves to: `success` only for a completed job. */
export interface JobOutcome {
  success: boolean;
  data: JobResult | null;
  errors: ErrorDetail[];
}

export interface ScorerInfo {
  name: string;
  version: string;
  description?: string;
  taskType?: string;
  supportedFormats?: string[];
  parameters?: Record<string, unknown>;
  [extra: string]: unknown;
}

export interface ScorerTest {
  scorer: string;
  testStatus: string;
  executionTime?: number;
  result?: ResultData | null;
  validation?: Record<string, unknown>;
  performance?: Record<string, unknown>;
  /** Why a test run `failed` (bad data, workspace or parameters). */
  error?: ErrorDetail | null;
  [extra: string]: unknown;
}

export interface ScorersLoaded {
  loadedScorers: { name: string; version?: string; filePath?: string; loadedAt?: string }[];
  watchEnabled?: boolean;
  totalLoaded: number;
}

export interface ScorersReloaded {
  reloadedScorers: { name: string; oldVersion?: string; newVersion?: string; reloadedAt?: string }[];
  totalReloaded: number;
}

export interface WatchStarted {
  filePath: string;
  watchStarted: boolean;
  checkInterval?: number;
  startedAt?: string;
}

export interface WatchStopped {
  filePath: string;
  watchStopped: boolean;
  stoppedAt?: string;
}

export interface WatchStatus {
  watchedFiles: {
    filePath: string;
    checkInterval?: number;
    startedAt?: string;
    lastCheck?: string | null;
    totalReloads?: number;
  }[];
  totalWatched: number;
}

export interface WorkspaceValidation {
  workspacePath: string;
  validationStatus: string;
  checks: Record<string, { status: string; details: Record<string, unknown> }>;
  warnings: unknown[];
  errors: unknown[];
  suggestions: unknown[];
}

export interface WorkspaceCreated {
  workspacePath: string;
  templateUsed?: string;
  createdFiles: string[];
  structure?: Record<string, string>;
  nextSteps?: string[];
}

export interface ConfigUpdate {
  updatedSection: string;
  changes: Record<string, { old: unknown; new: unknown }>;
  restartRequired?: boolean;
  updatedAt?: string;
}

export interface Health {
  status: string;
  timestamp?: string;
  version?: string;
  uptime?: string;
  components?: Record<string, unknown>;
}

export interface SystemStatus {
  system: Record<string, unknown>;
  metrics: Record<string, unknown>;
  resources: Record<string, unknown>;
  executors: Record<string, unknown>;
}

/** A downloaded artifact (`downloadArtifact`). */
export interface ArtifactDownload {
  /** The name asked for. */
  name: string;
  /** The file name the server gave. */
  filename: string;
  contentType: string;
  size: number;
  data: Uint8Array;
}
