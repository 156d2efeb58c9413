/**
 * A fake berthd for the container CLI tests: like cli-fake-daemon.ts (routes keyed "METHOD /path",
 * every request recorded in arrival order), plus hijacked endpoints: a request with
 * `Connection: Upgrade` gets `101 UPGRADED` and then the route drives the raw socket.
 */
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { run } from '../../src/cli/main.js';
import { testIo, type RecordedRequest, type Route } from './cli-fake-daemon.js';

/** Drives the socket after the 101 head was written; `body` is what came with the request. */
export type UpgradeRoute = (socket: net.Socket, req: RecordedRequest) => void;

export class ContainerFakeDaemon {
  readonly dir: string;
  readonly socket: string;
  readonly requests: RecordedRequest[] = [];
  private server: http.Server | undefined;
  private readonly open = new Set<net.Socket>();

  constructor(
    private readonly routes: Record<string, Route>,
    private readonly upgrades: Record<string, UpgradeRoute> = {},
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cli-ctr-test-'));
    this.socket = path.join(this.dir, 'berth.sock');
  }

  private static routeKey(method: string | undefined, url: string | undefined): string {
    return `${method} ${(url ?? '').replace(/^\/v[0-9.]+/, '').split('?')[0]}`;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const rec: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
        this.requests.push(rec);
        res.setHeader('Api-Version', '1.50');
        if (req.url === '/_ping') {
          res.end(req.method === 'HEAD' ? undefined : 'OK');
          return;
        }
        const route = this.routes[ContainerFakeDaemon.routeKey(req.method, req.url)];
        if (!route) {
          res.statusCode = 404;
          res.setHeader('Content-Type', 'application/json');
          res.end(JSON.stringify({ message: `page not found: ${ContainerFakeDaemon.routeKey(req.method, req.url)}` }));
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
      const route = this.upgrades[ContainerFakeDaemon.routeKey(req.method, req.url)];
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

  /** "METHOD url" of every request but the version ping. */
  calls(): string[] {
    return this.requests.filter((r) => r.url !== '/_ping').map((r) => `${r.method} ${r.url}`);
  }

  find(method: string, pathPrefix: string): RecordedRequest | undefined {
    return this.requests.find((r) => r.method === method && r.url.replace(/^\/v[0-9.]+/, '').startsWith(pathPrefix));
  }
}

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** setRawMode calls made by the CLI on a fake terminal stdin, in order. */
export const rawModes: boolean[] = [];

/** Run the CLI against a fresh fake daemon, then stop it. */
export async function withContainerDaemon(
  routes: Record<string, Route>,
  upgrades: Record<string, UpgradeRoute>,
  fn: (d: ContainerFakeDaemon, berth: (args: string[], stdin?: string, opts?: { stdinTty?: boolean }) => Promise<CliResult>) => Promise<void>,
): Promise<void> {
  const d = new ContainerFakeDaemon(routes, upgrades);
  await d.start();
  try {
    await fn(d, async (args, stdin, opts) => {
      const io = testIo({ DOCKER_CONFIG: path.join(d.dir, 'docker-config') }, stdin);
      if (opts?.stdinTty) {
        // a terminal on stdin (stdout stays a pipe): raw mode is recorded, not applied
        io.stdin.isTTY = true;
        io.stdin.setRawMode = (mode: boolean) => rawModes.push(mode);
      }
      const code = await run(['-H', `unix://${d.socket}`, ...args], io);
      return { code, out: io.stdout.text, err: io.stderr.text };
    });
  } finally {
    await d.stop();
  }
}
