/** What a route handler gets: the request, decoded the way moby's httputils decode it. */
import type http from 'node:http';
import { BerthError, invalidArgument } from '../errors.js';
import { hijackResponse, hijackUpgrade, type HijackedStream, type HijackOptions, type UpgradeConnection } from './hijack.js';
import { JsonMessageStream } from './json-stream.js';

import { expandAuthField, type RegistryAuth } from '../registry/auth.js';

export type { RegistryAuth };

/** Request bodies handlers read whole; streaming handlers (load, build) read `req` themselves. */
const MAX_BUFFERED_BODY = 64 * 1024 * 1024;

export interface RequestContext {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The negotiated API version, e.g. '1.50'. */
  apiVersion: string;
  /** Aborted when the client disconnects before the response is complete. */
  signal: AbortSignal;
  body(): Promise<Buffer>;
  /** The body as JSON; 400 on an empty or malformed body. */
  json<T>(): Promise<T>;
  /** docker's bool query: absent, '', '0', 'no', 'false', 'none' are false, anything else true. */
  bool(name: string): boolean;
  /** An integer query; 400 when present but not an integer. */
  int(name: string, dflt?: number): number | undefined;
  /** The `filters` query in both `{"k":["v"]}` and `{"k":{"v":true}}` forms; 400 on bad JSON. */
  filters(): Map<string, string[]>;
  /** X-Registry-Auth; undefined when absent or empty (`e30=`). */
  registryAuth(): RegistryAuth | undefined;
  /** X-Registry-Config (build): registry server -> credentials. */
  registryConfig(): Record<string, RegistryAuth>;
  sendJson(status: number, value: unknown): void;
  sendText(status: number, text: string, contentType?: string): void;
  /** A status with no body (204, 201 without content, 304). */
  sendStatus(status: number): void;
  /** Starts a JSON progress stream (status 200 sent now); errors after this go in-band. */
  jsonStream(): JsonMessageStream;
  /** The progress stream, if the handler started one. */
  readonly activeStream: JsonMessageStream | undefined;
  /**
   * Takes over the connection for attach/exec: `101 UPGRADED` when the client asked for an upgrade,
   * `200 OK` with the stream as the body otherwise. Read the request body (`json()`) before this.
   * When the handler returns, the server ends our side; errors it throws after this go in-band.
   */
  hijack(opts?: HijackOptions): Promise<HijackedStream>;
  /** The hijacked stream, if the handler took the connection over. */
  readonly hijacked: HijackedStream | undefined;
}

export type Handler = (ctx: RequestContext) => Promise<void> | void;

export function parseDockerBool(value: string | null): boolean {
  if (value === null) return false;
  const v = value.trim().toLowerCase();
  return !(v === '' || v === '0' || v === 'no' || v === 'false' || v === 'none');
}

export function parseQueryInt(name: string, value: string | null, dflt?: number): number | undefined {
  if (value === null || value.trim() === '') return dflt;
  const v = value.trim();
  if (!/^[+-]?\d+$/.test(v)) throw invalidArgument(`invalid value for ${name}: ${JSON.stringify(value)}: not an integer`);
  const n = Number.parseInt(v, 10);
  if (!Number.isSafeInteger(n)) throw invalidArgument(`invalid value for ${name}: ${JSON.stringify(value)}: out of range`);
  return n;
}

/**
 * docker's filters.FromJSON: the current form maps each key to a set `{"value": true}`, the legacy
 * form (API < 1.22, still sent by some clients) to a list. Like moby, a set member counts whatever
 * its boolean says.
 */
export function parseFilters(raw: string | null): Map<string, string[]> {
  const result = new Map<string, string[]>();
  if (raw === null || raw.trim() === '') return result;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw invalidArgument(`invalid filter: ${(err as Error).message}`);
  }
  if (parsed === null) return result;
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw invalidArgument('invalid filter: expected a JSON object');
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(value)) {
      if (!value.every((v): v is string => typeof v === 'string')) {
        throw invalidArgument(`invalid filter: values of ${JSON.stringify(key)} must be strings`);
      }
      result.set(key, [...value]);
    } else if (value !== null && typeof value === 'object') {
      const members = Object.entries(value as Record<string, unknown>);
      if (!members.every(([, b]) => typeof b === 'boolean')) {
        throw invalidArgument(`invalid filter: values of ${JSON.stringify(key)} must map to booleans`);
      }
      result.set(key, members.map(([v]) => v));
    } else {
      throw invalidArgument(`invalid filter: ${JSON.stringify(key)} must be a list or a set of values`);
    }
  }
  return result;
}

const AUTH_KEYS: readonly (keyof RegistryAuth)[] = [
  'username', 'password', 'auth', 'email', 'serveraddress', 'identitytoken', 'registrytoken',
];

function decodeBase64Json(header: string, what: string): unknown {
  // Buffer's base64 decoder accepts both the URL-safe and the standard alphabet, padded or not.
  const text = Buffer.from(header.trim(), 'base64').toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalidArgument(`invalid ${what} header: ${(err as Error).message}`);
  }
}

function toRegistryAuth(value: unknown, what: string): RegistryAuth | undefined {
  if (value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidArgument(`invalid ${what} header: expected a JSON object`);
  const auth: RegistryAuth = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const key = k.toLowerCase() as keyof RegistryAuth; // Go's JSON decoding matches keys case-insensitively
    if (!AUTH_KEYS.includes(key) || v === null || v === undefined) continue;
    if (typeof v !== 'string') throw invalidArgument(`invalid ${what} header: ${k} must be a string`);
    if (v !== '') auth[key] = v;
  }
  return Object.keys(auth).length === 0 ? undefined : expandAuthField(auth);
}

export function decodeRegistryAuth(header: string | undefined): RegistryAuth | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  return toRegistryAuth(decodeBase64Json(header, 'X-Registry-Auth'), 'X-Registry-Auth');
}

export function decodeRegistryConfig(header: string | undefined): Record<string, RegistryAuth> {
  const result: Record<string, RegistryAuth> = {};
  if (header === undefined || header.trim() === '') return result;
  const value = decodeBase64Json(header, 'X-Registry-Config');
  if (value === null) return result;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidArgument('invalid X-Registry-Config header: expected a JSON object');
  for (const [server, entry] of Object.entries(value as Record<string, unknown>)) {
    const auth = toRegistryAuth(entry, 'X-Registry-Config');
    if (auth) result[server] = auth;
  }
  return result;
}

function headerValue(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export class HttpRequestContext implements RequestContext {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly params: Record<string, string>;
  readonly query: URLSearchParams;
  readonly apiVersion: string;
  private readonly abort = new AbortController();
  private bodyPromise: Promise<Buffer> | undefined;
  private stream: JsonMessageStream | undefined;
  private readonly upgrade: UpgradeConnection | undefined;
  private hijackedStream: HijackedStream | undefined;

  /** `upgrade` is set for requests that arrived with `Upgrade:`, whose body is still on the socket. */
  constructor(
    req: http.IncomingMessage, res: http.ServerResponse, params: Record<string, string>, query: URLSearchParams, apiVersion: string,
    upgrade?: UpgradeConnection,
  ) {
    this.req = req;
    this.res = res;
    this.params = params;
    this.query = query;
    this.apiVersion = apiVersion;
    this.upgrade = upgrade;
    res.once('close', () => {
      if (!res.writableFinished) this.abort.abort(new Error('client disconnected'));
    });
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** The progress stream, if the handler started one. */
  get activeStream(): JsonMessageStream | undefined {
    return this.stream;
  }

  get hijacked(): HijackedStream | undefined {
    return this.hijackedStream;
  }

  hijack(opts: HijackOptions = {}): Promise<HijackedStream> {
    if (this.hijackedStream) return Promise.resolve(this.hijackedStream);
    if (this.res.headersSent) return Promise.reject(new Error('hijack after the response started'));
    const stream = this.upgrade ? hijackUpgrade(this.upgrade, this.res, opts) : hijackResponse(this.req, this.res, opts);
    stream.signal.addEventListener('abort', () => this.abort.abort(stream.signal.reason), { once: true });
    this.hijackedStream = stream;
    return Promise.resolve(stream);
  }

  body(): Promise<Buffer> {
    const source = this.upgrade?.body ?? this.req;
    this.bodyPromise ??= new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      source.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BUFFERED_BODY) {
          reject(invalidArgument(`request body larger than ${MAX_BUFFERED_BODY} bytes`));
          source.destroy();
          return;
        }
        chunks.push(chunk);
      });
      source.once('end', () => resolve(Buffer.concat(chunks)));
      source.once('error', (err) => reject(new BerthError('invalid_argument', `reading request body: ${err.message}`)));
    });
    return this.bodyPromise;
  }

  async json<T>(): Promise<T> {
    const text = (await this.body()).toString('utf8');
    if (text.trim() === '') throw invalidArgument('invalid JSON: request body is empty');
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw invalidArgument(`invalid JSON: ${(err as Error).message}`);
    }
  }

  bool(name: string): boolean {
    return parseDockerBool(this.query.get(name));
  }

  int(name: string, dflt?: number): number | undefined {
    return parseQueryInt(name, this.query.get(name), dflt);
  }

  filters(): Map<string, string[]> {
    return parseFilters(this.query.get('filters'));
  }

  registryAuth(): RegistryAuth | undefined {
    return decodeRegistryAuth(headerValue(this.req, 'x-registry-auth'));
  }

  registryConfig(): Record<string, RegistryAuth> {
    return decodeRegistryConfig(headerValue(this.req, 'x-registry-config'));
  }

  sendJson(status: number, value: unknown): void {
    const body = JSON.stringify(value) + '\n';
    this.res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    this.res.end(this.req.method === 'HEAD' ? undefined : body);
  }

  sendText(status: number, text: string, contentType = 'text/plain; charset=utf-8'): void {
    this.res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
    this.res.end(this.req.method === 'HEAD' ? undefined : text);
  }

  sendStatus(status: number): void {
    this.res.writeHead(status);
    this.res.end();
  }

  jsonStream(): JsonMessageStream {
    this.stream ??= new JsonMessageStream(this.res);
    return this.stream;
  }
}
