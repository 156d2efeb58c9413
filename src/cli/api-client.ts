import type { RegistryAuth } from '../registry/auth.js';
/**
 * The CLI's client for the Docker Engine API on berthd's socket. It negotiates the API version once
 * (HEAD /_ping, then min(server, 1.50)) and prefixes every path with /v1.NN as docker does.
 * Daemon error bodies `{"message": ...}` become DaemonError, printed as "Error response from daemon: ...".
 */
import http from 'node:http';
import type { Readable } from 'node:stream';
import { BerthError, codeFromHttpStatus } from '../errors.js';

export const MAX_API_VERSION = '1.50';
export const DEFAULT_HOST = 'unix:///run/berth/berth.sock';

/** An error the daemon reported in an HTTP error response. */
export class DaemonError extends BerthError {
  readonly status: number;
  constructor(status: number, message: string) {
    super(codeFromHttpStatus(status), message);
    this.name = 'DaemonError';
    this.status = status;
  }
}

/** The daemon could not be reached at all. */
export class ConnectionError extends BerthError {
  constructor(host: string, cause: unknown) {
    super('unavailable', `Cannot connect to the berth daemon at ${host}. Is the berth daemon running?`, { cause });
    this.name = 'ConnectionError';
  }
}

/** Query values; arrays repeat the key (names=a&names=b), undefined and null are left out. */
export type Query = Record<string, string | number | boolean | readonly string[] | undefined | null>;

export interface RequestOptions {
  query?: Query;
  headers?: Record<string, string>;
  /** A JSON body (serialized with content-type application/json) or a stream sent chunked. */
  json?: unknown;
  body?: Readable;
  contentType?: string;
  signal?: AbortSignal;
}

export interface ApiResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
}

type Endpoint = { socketPath: string } | { host: string; port: number };

/** Parse -H / DOCKER_HOST: unix:///path, tcp://host:port, http://host:port, or a bare /path. */
export function parseHost(host: string): Endpoint {
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  if (host.startsWith('/')) return { socketPath: host };
  const m = /^(?:tcp|http):\/\/\[?([^\]/]*?)\]?(?::(\d+))?\/?$/.exec(host);
  if (m) return { host: m[1] || '127.0.0.1', port: m[2] ? Number(m[2]) : 2375 };
  throw new BerthError('invalid_argument', `unable to parse docker host \`${host}\``);
}

/** Go's url.QueryEscape: everything but [A-Za-z0-9-_.~] is percent-encoded, space as '+'. */
export function queryEscape(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** url.Values.Encode: keys sorted, values of one key in order. */
export function encodeQuery(q: Query | undefined): string {
  if (!q) return '';
  const parts: string[] = [];
  for (const k of Object.keys(q).sort()) {
    const v = q[k];
    if (v === undefined || v === null) continue;
    const values = Array.isArray(v) ? (v as readonly string[]) : [String(v)];
    for (const one of values) parts.push(`${queryEscape(k)}=${queryEscape(one)}`);
  }
  return parts.length ? '?' + parts.join('&') : '';
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export interface ApiClientOptions {
  host: string;
  /** Pin the version (DOCKER_API_VERSION); skips the ping. */
  version?: string;
  userAgent?: string;
}

export class ApiClient {
  readonly host: string;
  private readonly endpoint: Endpoint;
  private readonly agent: http.Agent;
  private version: string | undefined;
  private readonly userAgent: string;

  constructor(options: ApiClientOptions) {
    this.host = options.host;
    this.endpoint = parseHost(options.host);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    this.version = options.version;
    this.userAgent = options.userAgent ?? 'berth-cli';
  }

  /** The negotiated API version ("1.50"), pinging the daemon the first time. */
  async apiVersion(): Promise<string> {
    if (this.version) return this.version;
    let res = await this.raw('HEAD', '/_ping', {});
    res.body.resume();
    if (res.status >= 400 && !res.headers['api-version']) {
      res = await this.raw('GET', '/_ping', {});
      res.body.resume();
    }
    const server = headerValue(res.headers['api-version']);
    this.version = server && compareVersions(server, MAX_API_VERSION) < 0 ? server : MAX_API_VERSION;
    return this.version;
  }

  /** A request under /v1.NN; non-2xx responses throw DaemonError. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> {
    const version = await this.apiVersion();
    const res = await this.raw(method, `/v${version}${path}`, options);
    if (res.status >= 400) throw await errorFromResponse(res);
    return res;
  }

  async getJson<T>(path: string, query?: Query): Promise<T> {
    return readJson<T>(await this.request('GET', path, { query }));
  }

  async postJson<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return readJson<T>(await this.request('POST', path, options));
  }

  async deleteJson<T>(path: string, query?: Query): Promise<T> {
    return readJson<T>(await this.request('DELETE', path, { query }));
  }

  async head(path: string, query?: Query): Promise<ApiResponse> {
    const res = await this.request('HEAD', path, { query });
    res.body.resume();
    return res;
  }

  /** Release pooled sockets so the process can exit at once. */
  close(): void {
    this.agent.destroy();
  }

  private raw(method: string, path: string, options: RequestOptions): Promise<ApiResponse> {
    const headers: Record<string, string> = { 'User-Agent': this.userAgent, ...options.headers };
    let payload: Buffer | undefined;
    if (options.json !== undefined) {
      payload = Buffer.from(JSON.stringify(options.json));
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(payload.length);
    } else if (options.body) {
      headers['Content-Type'] = options.contentType ?? 'application/x-tar';
      headers['Transfer-Encoding'] = 'chunked';
    }
    const target = 'socketPath' in this.endpoint ? { socketPath: this.endpoint.socketPath } : this.endpoint;
    return new Promise<ApiResponse>((resolve, reject) => {
      const req = http.request(
        {
          ...target,
          method,
          path: path + encodeQuery(options.query),
          headers: { Host: 'socketPath' in this.endpoint ? 'api.moby.localhost' : `${this.endpoint.host}:${this.endpoint.port}`, ...headers },
          agent: this.agent,
          signal: options.signal,
        },
        (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }),
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'EACCES' || err.code === 'ENOTSOCK') {
          reject(new ConnectionError(this.host, err));
        } else reject(err);
      });
      if (payload) req.end(payload);
      else if (options.body) {
        options.body.on('error', (e) => req.destroy(e));
        options.body.pipe(req);
      } else req.end();
    });
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export async function readBody(res: ApiResponse): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res.body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function readJson<T>(res: ApiResponse): Promise<T> {
  const buf = await readBody(res);
  if (buf.length === 0) return undefined as T;
  try {
    return JSON.parse(buf.toString('utf8')) as T;
  } catch {
    throw new BerthError('internal', `invalid JSON from daemon: ${buf.toString('utf8').slice(0, 200)}`);
  }
}

async function errorFromResponse(res: ApiResponse): Promise<DaemonError> {
  const buf = await readBody(res);
  const text = buf.toString('utf8').trim();
  let message = text;
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (parsed && typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // docker shows non-JSON error bodies as they are
  }
  if (!message) message = `${res.status} ${http.STATUS_CODES[res.status] ?? ''}`.trim();
  return new DaemonError(res.status, message);
}

/** X-Registry-Auth: base64url of the auth JSON, `{}` → "e30=" as docker sends when anonymous. */
export function encodeRegistryAuth(auth: RegistryAuth | undefined): string {
  const ordered: Record<string, string> = {};
  if (auth) {
    for (const k of ['username', 'password', 'auth', 'email', 'serveraddress', 'identitytoken', 'registrytoken'] as const) {
      const v = auth[k];
      if (v) ordered[k] = v;
    }
  }
  // base64.URLEncoding in Go keeps the '=' padding
  return Buffer.from(JSON.stringify(ordered)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

export type { RegistryAuth } from '../registry/auth.js';
