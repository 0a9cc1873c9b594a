/**
 * The app's error hierarchy. Every error a caller can see maps to one HTTP status and carries a message a
 * person can act on; `cause` keeps the original for logs.
 */
export class AppError extends Error {
  override name = 'AppError';
  /** HTTP status this error answers with. */
  readonly status: number = 500;
  /** Short machine-readable reason, used as the problem+json `type` suffix and in run snapshots. */
  readonly reason: string = 'InternalError';
  /**
   * What an operator needs and a caller must not see (every configured cluster alias and namespace, say): it
   * goes to the log, never into an answer.
   */
  readonly logDetail: string | undefined;

  constructor(message?: string, options?: ErrorOptions & { logDetail?: string }) {
    super(message, options);
    this.logDetail = options?.logDetail;
  }
}

/** The caller sent something we cannot use: malformed JSON, a wrong type, a bad name. */
export class BadRequestError extends AppError {
  override name = 'BadRequestError';
  override readonly status = 400;
  override readonly reason = 'BadRequest';
}

/** The caller asked for a cluster or namespace this app is not configured to touch. */
export class ForbiddenError extends AppError {
  override name = 'ForbiddenError';
  override readonly status = 403;
  override readonly reason = 'Forbidden';
}

export class NotFoundError extends AppError {
  override name = 'NotFoundError';
  override readonly status = 404;
  override readonly reason = 'NotFound';
}

export class ConflictError extends AppError {
  override name = 'ConflictError';
  override readonly status = 409;
  override readonly reason = 'Conflict';
}

/** The request body is larger than the app takes. */
export class PayloadTooLargeError extends AppError {
  override name = 'PayloadTooLargeError';
  override readonly status = 413;
  override readonly reason = 'PayloadTooLarge';
}

/** Something the app depends on (Durable's task hub, its storage) did not answer: the caller may retry. */
export class ServiceUnavailableError extends AppError {
  override name = 'ServiceUnavailableError';
  override readonly status = 503;
  override readonly reason = 'ServiceUnavailable';
}

/** A setting is missing or malformed: start-up stops with this. */
export class ConfigError extends AppError {
  override name = 'ConfigError';
}

/**
 * A Kubernetes API call failed. `code` is the HTTP status (0 when no answer came back), `kubeReason` the
 * V1Status reason (AlreadyExists, NotFound, Forbidden...).
 */
export class KubeApiError extends AppError {
  override name = 'KubeApiError';
  readonly code: number;
  readonly kubeReason: string | undefined;
  readonly operation: string;

  constructor(operation: string, code: number, kubeReason: string | undefined, detail: string, options?: { cause?: unknown }) {
    super(`${operation} failed: ${code === 0 ? 'no answer from the API server' : `HTTP ${code}`}${kubeReason ? ` ${kubeReason}` : ''}: ${detail}`, options);
    this.operation = operation;
    this.code = code;
    this.kubeReason = kubeReason;
  }

  /** Worth another try: throttling, server errors, time-outs and broken connections. Never a 4xx. */
  get transient(): boolean {
    return this.code === 0 || this.code === 429 || this.code >= 500;
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.code === 404;
}

export function isAlreadyExists(err: unknown): boolean {
  return err instanceof KubeApiError && err.code === 409 && err.kubeReason === 'AlreadyExists';
}

export function isUnauthorized(err: unknown): boolean {
  return err instanceof KubeApiError && err.code === 401;
}

export function isForbidden(err: unknown): boolean {
  return err instanceof KubeApiError && err.code === 403;
}

export function isTransient(err: unknown): boolean {
  return err instanceof KubeApiError && err.transient;
}

/** Normalises anything thrown into an Error. */
export function ensureError(value: unknown): Error {
  if (value instanceof Error) return value;
  let text: string;
  try {
    text = typeof value === 'string' ? value : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  return new Error(`Non-Error thrown: ${text}`);
}

/** A write that needs the version the caller read (optimistic concurrency) came without one. */
export class PreconditionRequiredError extends AppError {
  override name = 'PreconditionRequiredError';
  override readonly status = 428;
  override readonly reason = 'PreconditionRequired';
}
