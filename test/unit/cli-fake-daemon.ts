/**
 * A tiny fake berthd for CLI tests: records each request (method, url, headers, body) and answers
 * from a route table keyed by "METHOD /path" (the path without the /v1.NN prefix or query).
 */
import fs from 'node:fs';
import http from 'node:http';
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

export class FakeDaemon {
  readonly dir: string;
  readonly socket: string;
  readonly requests: RecordedRequest[] = [];
  private server: http.Server | undefined;

  constructor(private readonly routes: Record<string, Route>, private readonly apiVersion = '1.50') {
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
        const p = (req.url ?? '').replace(/^\/v[0-9.]+/, '').split('?')[0];
        const route = this.routes[`${req.method} ${p}`];
        if (!route) {
          res.statusCode = 404;
          res.setHeader('Content-Type', 'application/json');
          res.end(JSON.stringify({ message: `page not found: ${req.method} ${p}` }));
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
    await new Promise<void>((resolve) => this.server!.listen(this.socket, resolve));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Requests other than the version ping. */
  apiRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.url !== '/_ping');
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
