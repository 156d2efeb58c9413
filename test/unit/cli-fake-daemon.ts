/**
 * A tiny fake berthd for CLI tests: records each request (method, url, headers, body) in arrival order and answers
 * from a route table keyed by "METHOD /path" (the path without the /v1.NN prefix or query). Hijacked endpoints: a
 * request with `Connection: Upgrade` that has an upgrade route gets `101 UPGRADED`, then the route drives the socket.
 */
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import type { CliIo } from '../../src/cli/context.js';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface FakeReply {
  status?: number;
  headers?: Record<string, string>;
  json?: unknown;
  body?: string | Buffer;
}

export type Route = FakeReply | ((req: RecordedRequest) => FakeReply);

/** Drives the socket after the 101 head was written; `body` is what came with the request. */
export type UpgradeRoute = (socket: net.Socket, req: RecordedRequest) => void;

const routeKey = (method: string | undefined, url: string | undefined): string => `${method} ${(url ?? '').replace(/^\/v[0-9.]+/, '').split('?')[0]}`;

export class FakeDaemon {
  readonly dir: string;
  readonly socket: string;
  readonly requests: RecordedRequest[] = [];
  private server: http.Server | undefined;
  private readonly open = new Set<net.Socket>();
  private readonly apiVersion: string;
  private readonly upgrades: Record<string, UpgradeRoute>;

  constructor(
    private readonly routes: Record<string, Route>,
    opts: { apiVersion?: string; upgrades?: Record<string, UpgradeRoute> } = {},
  ) {
    this.apiVersion = opts.apiVersion ?? '1.50';
    this.upgrades = opts.upgrades ?? {};
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cli-test-'));
    this.socket = path.join(this.dir, 'berth.sock');
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const rec: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
        this.requests.push(rec);
        res.setHeader('Api-Version', this.apiVersion);
        if (req.url === '/_ping') {
          res.end(req.method === 'HEAD' ? undefined : 'OK');
          return;
        }
        const key = routeKey(req.method, req.url);
        const route = this.routes[key];
        if (!route) {
          res.statusCode = 404;
          res.setHeader('Content-Type', 'application/json');
          res.end(JSON.stringify({ message: `page not found: ${key}` }));
          return;
        }
        const reply = typeof route === 'function' ? route(rec) : route;
        res.statusCode = reply.status ?? 200;
        for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
        if (reply.json !== undefined) {
          res.setHeader('Content-Type', 'application/json');
          res.end(JSON.stringify(reply.json));
        } else res.end(reply.body ?? '');
      });
    });
    this.server.on('connection', (s: net.Socket) => {
      this.open.add(s);
      s.on('close', () => this.open.delete(s));
    });
    this.server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      const rec: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: head };
      this.requests.push(rec);
      const route = this.upgrades[routeKey(req.method, req.url)];
      if (!route) {
        const msg = JSON.stringify({ message: 'No such container: nope' });
        socket.end(`HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${msg.length}\r\n\r\n${msg}`);
        return;
      }
      socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
      route(socket, rec);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.socket, resolve));
  }

  async stop(): Promise<void> {
    for (const s of this.open) s.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Requests other than the version ping. */
  apiRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.url !== '/_ping');
  }

  /** "METHOD url" of every request but the version ping. */
  calls(): string[] {
    return this.apiRequests().map((r) => `${r.method} ${r.url}`);
  }

  find(method: string, pathPrefix: string): RecordedRequest | undefined {
    return this.requests.find((r) => r.method === method && r.url.replace(/^\/v[0-9.]+/, '').startsWith(pathPrefix));
  }
}

export class Capture extends PassThrough {
  text = '';
  isTTY = false;
  columns: number | undefined;
  constructor() {
    super();
    this.on('data', (c: Buffer) => (this.text += c.toString('utf8')));
  }
}

export interface TestIo extends CliIo {
  stdout: Capture;
  stderr: Capture;
}

export function testIo(env: Record<string, string>, stdin: string | Buffer = ''): TestIo {
  const input = Readable.from([Buffer.from(stdin)]) as Readable & { isTTY?: boolean };
  input.isTTY = false;
  return { stdout: new Capture(), stderr: new Capture(), stdin: input, env };
}
