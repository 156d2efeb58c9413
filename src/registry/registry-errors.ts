/**
 * The distribution error body `{"errors":[{"code","message","detail"}]}`, rendered the way docker's
 * errcode package prints it ('manifest unknown: manifest unknown'), and mapped to BerthError codes.
 */
import { BerthError, type ErrorCode } from '../errors.js';

export interface RegistryErrorEntry {
  code: string;
  message: string;
  detail?: unknown;
}

export function parseRegistryErrors(body: string): RegistryErrorEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return [];
  }
  if (typeof doc !== 'object' || doc === null) return [];
  const d = doc as Record<string, unknown>;
  const errors = d['errors'];
  if (Array.isArray(errors)) {
    return errors
      .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
      .map((e) => {
        const entry: RegistryErrorEntry = {
          code: typeof e['code'] === 'string' ? e['code'] : 'UNKNOWN',
          message: typeof e['message'] === 'string' ? e['message'] : '',
        };
        if (e['detail'] !== undefined) entry.detail = e['detail'];
        return entry;
      });
  }
  // Token servers often answer `{"details": "..."}` or `{"error": "..."}` instead.
  for (const key of ['details', 'error', 'message']) {
    if (typeof d[key] === 'string' && d[key] !== '') return [{ code: 'UNKNOWN', message: d[key] }];
  }
  return [];
}

/** 'MANIFEST_UNKNOWN' + 'manifest unknown' -> 'manifest unknown: manifest unknown' */
export function formatRegistryError(e: RegistryErrorEntry): string {
  const code = e.code.toLowerCase().replace(/_/g, ' ');
  return e.message === '' ? code : `${code}: ${e.message}`;
}

export function formatRegistryErrors(entries: readonly RegistryErrorEntry[]): string {
  if (entries.length === 1) return formatRegistryError(entries[0]!);
  return entries.map(formatRegistryError).join('; ');
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  416: 'Range Not Satisfiable',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** '404 Not Found' */
export function statusLine(status: number): string {
  const text = STATUS_TEXT[status];
  return text ? `${status} ${text}` : String(status);
}

export function errorCodeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'invalid_argument';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 405:
      return 'not_implemented';
    case 409:
      return 'conflict';
    case 429:
      return 'unavailable';
  }
  return status >= 500 ? 'unavailable' : 'internal';
}

/** The text to show for a failed registry response: its error JSON if any, else the status line. */
export function describeRegistryFailure(status: number, body: string): { text: string; entries: RegistryErrorEntry[] } {
  const entries = parseRegistryErrors(body);
  if (entries.length > 0) return { text: formatRegistryErrors(entries), entries };
  return { text: `unexpected status ${statusLine(status)}`, entries };
}

export function registryError(status: number, message: string): BerthError {
  return new BerthError(errorCodeForStatus(status), message);
}
