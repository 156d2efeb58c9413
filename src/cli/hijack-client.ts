/**
 * The hijacked HTTP connection docker uses for attach and exec start: the request goes out on a raw
 * socket with `Connection: Upgrade` / `Upgrade: tcp`, and after the `101` (or `200`) head the same
 * socket carries the container's streams both ways. Closing stdin is a half-close (`socket.end()`)
 * while the output keeps arriving.
 */
import net from 'node:net';
import { BerthError } from '../errors.js';
import { DaemonError, encodeQuery, parseHost, type ApiClient, type Query } from './api-client.js';

export interface HijackOptions {
  query?: Query;
  /** JSON body (exec start); attach sends none. */
  json?: unknown;
  userAgent?: string;
}

export interface HijackedConnection {
  socket: net.Socket;
  status: number;
  headers: Record<string, string>;
}

const MAX_HEAD = 64 * 1024;

function connect(host: string): Promise<net.Socket> {
  const endpoint = parseHost(host);
  return new Promise((resolve, reject) => {
    const socket = 'socketPath' in endpoint ? net.connect({ path: endpoint.socketPath }) : net.connect({ host: endpoint.host, port: endpoint.port });
    const onError = (e: Error): void => reject(e);
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/** The bytes of the request head and body, as Go's http client writes them for a hijack. */
export function hijackRequestBytes(method: string, path: string, host: string, options: HijackOptions): Buffer {
  const body = options.json === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(options.json));
  const endpoint = parseHost(host);
  const hostHeader = 'socketPath' in endpoint ? 'api.moby.localhost' : `${endpoint.host}:${endpoint.port}`;
  const lines = [
    `${method} ${path}${encodeQuery(options.query)} HTTP/1.1`,
    `Host: ${hostHeader}`,
    `User-Agent: ${options.userAgent ?? 'berth-cli'}`,
    `Content-Length: ${body.length}`,
    'Connection: Upgrade',
    `Content-Type: ${options.json === undefined ? 'text/plain' : 'application/json'}`,
    'Upgrade: tcp',
  ];
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n'), body]);
}

interface ResponseHead {
  status: number;
  headers: Record<string, string>;
  rest: Buffer;
}

function parseHead(text: string): { status: number; headers: Record<string, string> } {
  const lines = text.split('\r\n');
  const m = /^HTTP\/\d\.\d (\d{3})/.exec(lines[0] ?? '');
  if (!m) throw new BerthError('internal', `invalid response from daemon: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(m[1]), headers };
}

function readHead(socket: net.Socket): Promise<ResponseHead> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const i = buf.indexOf('\r\n\r\n');
      if (i < 0) {
        if (buf.length > MAX_HEAD) {
          cleanup();
          reject(new BerthError('internal', 'response head from daemon too large'));
        }
        return;
      }
      cleanup();
      socket.pause();
      try {
        resolve({ ...parseHead(buf.subarray(0, i).toString('latin1')), rest: buf.subarray(i + 4) });
      } catch (e) {
        reject(e);
      }
    };
    const onEnd = (): void => {
      cleanup();
      reject(new BerthError('unavailable', 'the daemon closed the connection before responding'));
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(e);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
  });
}

async function readErrorBody(socket: net.Socket, head: ResponseHead): Promise<string> {
  const length = head.headers['content-length'] !== undefined ? Number(head.headers['content-length']) : Infinity;
  let body = head.rest;
  if (body.length < length) {
    socket.resume();
    for await (const chunk of socket) {
      body = Buffer.concat([body, chunk as Buffer]);
      if (body.length >= length) break;
    }
  }
  socket.destroy();
  const text = body.subarray(0, Number.isFinite(length) ? length : body.length).toString('utf8').trim();
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // not JSON: shown as is
  }
  return text || `${head.status}`;
}

/**
 * Send `method path` on a fresh connection and return the socket once the daemon switched protocols.
 * Error statuses become DaemonError like any other request.
 */
export async function hijack(client: ApiClient, method: string, path: string, options: HijackOptions = {}): Promise<HijackedConnection> {
  const version = await client.apiVersion();
  const socket = await connect(client.host);
  socket.write(hijackRequestBytes(method, `/v${version}${path}`, client.host, options));
  let head: ResponseHead;
  try {
    head = await readHead(socket);
  } catch (e) {
    socket.destroy();
    throw e;
  }
  if (head.status >= 400) throw new DaemonError(head.status, await readErrorBody(socket, head));
  // output that arrived with the head belongs to the stream
  if (head.rest.length) socket.unshift(head.rest);
  return { socket, status: head.status, headers: head.headers };
}
