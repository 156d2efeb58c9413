/**
 * The one error type of berth. Every layer throws BerthError with a stable code; the API maps the
 * code to an HTTP status once (api/errors.ts) and the CLI maps it to an exit code once.
 */
export type ErrorCode =
  | 'invalid_argument' // 400: bad parameter, bad reference, bad JSON
  | 'unauthorized' // 401: registry refused credentials
  | 'forbidden' // 403
  | 'not_found' // 404: no such image/container/...
  | 'conflict' // 409: name in use, image in use
  | 'not_modified' // 304: already started/stopped
  | 'not_implemented' // 501
  | 'unavailable' // 503: registry or runtime down
  | 'internal'; // 500

const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_argument: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  not_modified: 304,
  not_implemented: 501,
  unavailable: 503,
  internal: 500,
};

/** docker CLI uses 1 for daemon errors in most verbs; 125 is reserved for `run` failures before the process starts. */
const EXIT_CODE: Record<ErrorCode, number> = {
  invalid_argument: 1,
  unauthorized: 1,
  forbidden: 1,
  not_found: 1,
  conflict: 1,
  not_modified: 1,
  not_implemented: 1,
  unavailable: 1,
  internal: 1,
};

export class BerthError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'BerthError';
  }
  get httpStatus(): number {
    return HTTP_STATUS[this.code];
  }
  get exitCode(): number {
    return EXIT_CODE[this.code];
  }
}

export const notFound = (message: string): BerthError => new BerthError('not_found', message);
export const conflict = (message: string): BerthError => new BerthError('conflict', message);
export const invalidArgument = (message: string): BerthError => new BerthError('invalid_argument', message);
export const unavailable = (message: string, cause?: unknown): BerthError =>
  new BerthError('unavailable', message, { cause });

export function httpStatusOf(code: ErrorCode): number {
  return HTTP_STATUS[code];
}

export function codeFromHttpStatus(status: number): ErrorCode {
  for (const [code, s] of Object.entries(HTTP_STATUS)) if (s === status) return code as ErrorCode;
  return status >= 500 ? 'internal' : 'invalid_argument';
}

/** Any thrown value as a BerthError; unknown errors become `internal`. */
export function asBerthError(err: unknown): BerthError {
  if (err instanceof BerthError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new BerthError('internal', message, { cause: err });
}
