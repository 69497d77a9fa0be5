/** Sub-APIs: `client.scorers`, `client.workspaces`, `client.config`. */

import type { Http } from './http.js';
import type {
  ConfigUpdate,
  ScorerInfo,
  ScorerTest,
  ScorersLoaded,
  ScorersReloaded,
  WatchStarted,
  WatchStatus,
  WatchStopped,
  WorkspaceCreated,
  WorkspaceValidation,
} from './types.js';

const API = '/api/v1';
const seg = encodeURIComponent;

/** /api/v1/scorers: list, inspect, test, load, reload and watch scorers. */
export class Scorers {
  constructor(private readonly http: Http) {}

  /** Every registered scorer (optionally of one task type). */
  list(options: { taskType?: string; includeDetails?: boolean } = {}): Promise<ScorerInfo[]> {
    const query = { task_type: options.taskType, include_details: options.includeDetails };
    return this.http.request({ method: 'GET', path: `${API}/scorers`, query });
  }

  /** One scorer's parameters, formats and examples. */
  get(name: string, options: { version?: string; includeExamples?: boolean } = {}): Promise<ScorerInfo> {
    const query = { version: options.version, include_examples: options.includeExamples };
    return this.http.request({ method: 'GET', path: `${API}/scorers/${seg(name)}`, query });
  }

  /** Run (or only validate) a scorer on a workspace without creating a job. */
  test(
    name: string,
    body: { workspacePath: string; parameters?: Record<string, unknown>; validateOnly?: boolean },
  ): Promise<ScorerTest> {
    return this.http.request({ method: 'POST', path: `${API}/scorers/${seg(name)}/test`, body });
  }

  /** Load the scorers a Python file on the server registers (admin). */
  load(body: {
    filePath: string;
    autoWatch?: boolean;
    checkInterval?: number;
    forceReload?: boolean;
  }): Promise<ScorersLoaded> {
    return this.http.request({ method: 'POST', path: `${API}/scorers/load`, body });
  }

  /** Reload a scorer file; a failing reload keeps the old version (admin). */
  reload(body: { filePath: string; scorerName?: string }): Promise<ScorersReloaded> {
    return this.http.request({ method: 'POST', path: `${API}/scorers/reload`, body });
  }

  /** Reload the file whenever it changes (admin). */
  watch(body: { filePath: string; checkInterval?: number }): Promise<WatchStarted> {
    return this.http.request({ method: 'POST', path: `${API}/scorers/watch`, body });
  }

  /** Stop watching a file (admin). */
  unwatch(filePath: string): Promise<WatchStopped> {
    const query = { file_path: filePath };
    return this.http.request({ method: 'DELETE', path: `${API}/scorers/watch`, query });
  }

  /** The files being watched. */
  watchStatus(): Promise<WatchStatus> {
    return this.http.request({ method: 'GET', path: `${API}/scorers/watch` });
  }
}

/** /api/v1/workspaces: validate and initialise workspaces on the server. */
export class Workspaces {
  constructor(private readonly http: Http) {}

  /** Check layout, data files and meta.json. */
  validate(body: {
    workspacePath: string;
    taskType?: string;
    scorer?: string;
    strictMode?: boolean;
    autoFix?: boolean;
  }): Promise<WorkspaceValidation> {
    return this.http.request({ method: 'POST', path: `${API}/workspaces/validate`, body });
  }

  /** Create the standard layout and meta.json. */
  init(body: {
    workspacePath: string;
    template?: string;
    jobId?: string;
    taskType?: string;
    scorer?: string;
    config?: Record<string, unknown>;
  }): Promise<WorkspaceCreated> {
    const call = { method: 'POST' as const, path: `${API}/workspaces/init`, body, idempotent: false };
    return this.http.request(call);
  }
}

/** /api/v1/config: read and change the server's configuration. */
export class Config {
  constructor(private readonly http: Http) {}

  /** The whole configuration or one section (section keys as the server sends them). */
  async get(options: { section?: string; includeDefaults?: boolean } = {}): Promise<Record<string, unknown>> {
    const query = { section: options.section, include_defaults: options.includeDefaults };
    const env = await this.http.envelope({ method: 'GET', path: `${API}/config`, query });
    return env.data as Record<string, unknown>;
  }

  /** Change one section (admin); `changes` lists old and new values. */
  update(
    section: string,
    config: Record<string, unknown>,
    options: { restartRequired?: boolean } = {},
  ): Promise<ConfigUpdate> {
    const body = { section, config, restartRequired: options.restartRequired };
    return this.http.request({ method: 'PUT', path: `${API}/config`, body });
  }
}
