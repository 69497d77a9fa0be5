/**
 * Errors raised by the SDK, rebuilt from the API's error codes.
 *
 *   AutoScorerError
 *   ├── TransportError            no usable HTTP answer
 *   │   ├── ConnectError          server unreachable
 *   │   └── RequestTimeout        no answer within `timeout`
 *   ├── UnexpectedResponse        2xx but not the documented shape
 *   ├── WaitTimeout               waitForCompletion / streamLogs gave up
 *   └── APIError                  error envelope: code, message, field, details, requestId, status
 *       ├── InvalidParameter      INVALID_PARAMETER 400 (+ METHOD_NOT_ALLOWED, PAYLOAD_TOO_LARGE)
 *       │   └── MissingParameter  MISSING_PARAMETER 400
 *       ├── Unauthorized          UNAUTHORIZED 401
 *       ├── Forbidden             FORBIDDEN 403
 *       ├── ResourceNotFound      RESOURCE_NOT_FOUND 404
 *       │   └── ScorerNotFound    SCORER_NOT_FOUND 404
 *       ├── Conflict              CONFLICT 409
 *       ├── ValidationError       VALIDATION_ERROR 422 (+ MISSING_COLUMN, PARSE_ERROR, ...)
 *       ├── WorkspaceInvalid      WORKSPACE_INVALID 422
 *       ├── ExecutionFailed       EXECUTION_FAILED 500 (+ EXIT_NONZERO, OOM_KILLED, ...)
 *       ├── JobTimeout            TIMEOUT_ERROR 408
 *       ├── QuotaExceeded         QUOTA_EXCEEDED 429 (retryAfter)
 *       └── ServiceUnavailable    SERVICE_UNAVAILABLE 503 (+ EXECUTOR_UNAVAILABLE)
 */

export interface ErrorDetail {
  code: string;
  message: string;
  field?: string | null;
  details?: Record<string, unknown>;
}

export class AutoScorerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class TransportError extends AutoScorerError {
  readonly cause?: unknown;
  constructor(message: string, cause?: unknown) {
    super(message);
    this.cause = cause;
  }
}

export class ConnectError extends TransportError {}
export class RequestTimeout extends TransportError {}

export class UnexpectedResponse extends AutoScorerError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export class WaitTimeout extends AutoScorerError {
  constructor(
    message: string,
    readonly jobId: string,
    readonly lastStatus: string | null,
  ) {
    super(message);
  }
}

export interface APIErrorInit {
  code?: string;
  field?: string | null;
  details?: Record<string, unknown>;
  requestId?: string | null;
  status?: number;
  headers?: Headers;
  body?: unknown;
  errors?: ErrorDetail[];
}

export class APIError extends AutoScorerError {
  static readonly defaultCode: string = 'EXECUTION_FAILED';
  readonly code: string;
  readonly field: string | null;
  readonly details: Record<string, unknown>;
  readonly requestId: string | null;
  readonly status: number | null;
  readonly headers: Headers | null;
  readonly body: unknown;
  readonly errors: ErrorDetail[];

  constructor(message: string, init: APIErrorInit = {}) {
    super(message);
    this.code = init.code ?? (this.constructor as typeof APIError).defaultCode;
    this.field = init.field ?? null;
    this.details = init.details ?? {};
    this.requestId = init.requestId ?? null;
    this.status = init.status ?? null;
    this.headers = init.headers ?? null;
    this.body = init.body;
    this.errors = init.errors ?? [];
  }
}

export class InvalidParameter extends APIError {
  static readonly defaultCode: string = 'INVALID_PARAMETER';
}
export class MissingParameter extends InvalidParameter {
  static readonly defaultCode: string = 'MISSING_PARAMETER';
}
export class Unauthorized extends APIError {
  static readonly defaultCode: string = 'UNAUTHORIZED';
}
export class Forbidden extends APIError {
  static readonly defaultCode: string = 'FORBIDDEN';
}
export class ResourceNotFound extends APIError {
  static readonly defaultCode: string = 'RESOURCE_NOT_FOUND';
}
export class ScorerNotFound extends ResourceNotFound {
  static readonly defaultCode: string = 'SCORER_NOT_FOUND';
}
export class Conflict extends APIError {
  static readonly defaultCode: string = 'CONFLICT';
}
export class ValidationError extends APIError {
  static readonly defaultCode: string = 'VALIDATION_ERROR';
}
export class WorkspaceInvalid extends APIError {
  static readonly defaultCode: string = 'WORKSPACE_INVALID';
}
export class ExecutionFailed extends APIError {
  static readonly defaultCode: string = 'EXECUTION_FAILED';
}
export class JobTimeout extends APIError {
  static readonly defaultCode: string = 'TIMEOUT_ERROR';
}
export class QuotaExceeded extends APIError {
  static readonly defaultCode: string = 'QUOTA_EXCEEDED';
  /** Seconds the server asked to wait (details.retry_after or the Retry-After header). */
  get retryAfter(): number | null {
    const raw = this.details.retry_after ?? this.headers?.get('retry-after');
    const n = Number(raw);
    return raw === undefined || raw === null || Number.isNaN(n) ? null : n;
  }
}
export class ServiceUnavailable extends APIError {
  static readonly defaultCode: string = 'SERVICE_UNAVAILABLE';
}

type ErrorClass = typeof APIError;

const CLASSES: ErrorClass[] = [
  APIError, InvalidParameter, MissingParameter, Unauthorized, Forbidden, ResourceNotFound,
  ScorerNotFound, Conflict, ValidationError, WorkspaceInvalid, ExecutionFailed, JobTimeout,
  QuotaExceeded, ServiceUnavailable,
];

const BY_CODE = new Map<string, ErrorClass>(CLASSES.map((c) => [c.defaultCode, c]));

/** Finer codes of the server's error tree, mapped to the class of their parent code. */
export const SUBCODE_PARENTS: Readonly<Record<string, string>> = {
  METHOD_NOT_ALLOWED: 'INVALID_PARAMETER',
  PAYLOAD_TOO_LARGE: 'INVALID_PARAMETER',
  MISSING_FILE: 'VALIDATION_ERROR',
  PARSE_ERROR: 'VALIDATION_ERROR',
  EMPTY_FILE: 'VALIDATION_ERROR',
  ENCODING_ERROR: 'VALIDATION_ERROR',
  FILE_TOO_LARGE: 'VALIDATION_ERROR',
  MISSING_COLUMN: 'VALIDATION_ERROR',
  DUPLICATE_ID: 'VALIDATION_ERROR',
  MISSING_ID: 'VALIDATION_ERROR',
  UNKNOWN_ID: 'VALIDATION_ERROR',
  INVALID_VALUE: 'VALIDATION_ERROR',
  EXIT_NONZERO: 'EXECUTION_FAILED',
  OOM_KILLED: 'EXECUTION_FAILED',
  NO_PREDICTIONS: 'EXECUTION_FAILED',
  DISK_QUOTA_EXCEEDED: 'EXECUTION_FAILED',
  IMAGE_NOT_FOUND: 'EXECUTION_FAILED',
  CANCELLED: 'EXECUTION_FAILED',
  WORKER_LOST: 'EXECUTION_FAILED',
  EXECUTOR_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
};

const BY_STATUS: Record<number, ErrorClass> = {
  400: InvalidParameter,
  401: Unauthorized,
  403: Forbidden,
  404: ResourceNotFound,
  408: JobTimeout,
  409: Conflict,
  422: ValidationError,
  429: QuotaExceeded,
  503: ServiceUnavailable,
};

/** The SDK class for an error code, falling back on the HTTP status. */
export function errorClass(code: string | undefined, status: number): ErrorClass {
  if (code) {
    const cls = BY_CODE.get(code) ?? BY_CODE.get(SUBCODE_PARENTS[code] ?? '');
    if (cls) return cls;
  }
  return BY_STATUS[status] ?? APIError;
}
