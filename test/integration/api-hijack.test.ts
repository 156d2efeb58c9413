/**
 * Hijacked attach/exec connections over a real unix socket, with echo routes standing in for
 * containers: the exact requests the docker CLI sends (raw), the no-Upgrade fallback, and dockerode.
 */
import { after, before, test as baseTest } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import Docker from 'dockerode';
import { notFound } from '../../src/errors.js';
import { attachStreamOptions, MULTIPLEXED_STREAM, RAW_STREAM } from '../../src/api/hijack.js';
import { Router } from '../../src/api/router.js';
import { ApiServer } from '../../src/api/server.js';
import { createLogger } from '../../src/daemon/log.js';
import { runCli } from '../support/berthd.js';
import { StdcopyParser, STDERR, STDOUT, SYSTEMERR, type StdFrame } from '../../src/util/stdcopy.js';

/** A broken stream would otherwise hang the run; the limit is a safety net, not a measurement. */
function test(name: string, fn: () => Promise<void>): void {
  baseTest(name, { timeout: 20_000 }, fn);
}

let dir: string;
let socketPath: string;
let server: ApiServer;
/** What the "early" route received on its input after it had ended its own side. */
let lateInput: Promise<string>;

function collect(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    stream.on('data', (d: Buffer) => (text += d.toString()));
    stream.on('end', () => resolve(text));
  });
}

function buildRouter(): Router {
  const router = new Router();
  // Just enough container for `docker attach`: it inspects first and waits for the exit code after.
  router.get('/_ping', (ctx) => ctx.sendText(200, 'OK'));
  router.head('/_ping', (ctx) => ctx.sendText(200, ''));
  router.get('/containers/{id}/json', (ctx) =>
    ctx.sendJson(200, {
      Id: ctx.params['id'],
      Config: { Tty: false, OpenStdin: true, AttachStdin: true, AttachStdout: true, AttachStderr: true },
      State: { Status: 'running', Running: true, Paused: false, Restarting: false, ExitCode: 0 },
      HostConfig: {},
    }),
  );
  router.post('/containers/{id}/wait', (ctx) => ctx.sendJson(200, { StatusCode: 0 }));
  router.post('/containers/{id}/attach', async (ctx) => {
    const id = ctx.params['id'];
    if (id === 'missing') throw notFound('No such container: missing');
    const stream = await ctx.hijack(attachStreamOptions(ctx.apiVersion, false));
    if (id === 'fail') throw new Error('container exploded');
    if (id === 'early') {
      // Our side ends while the client still sends: its bytes must still arrive.
      stream.writeStream(STDOUT, Buffer.from('done\n'));
      lateInput = collect(stream.input);
      return;
    }
    for await (const chunk of stream.input) {
      if (!stream.writeStream(STDOUT, chunk as Buffer)) await stream.drain();
    }
    // Written after the client half-closed: proves our side stayed open.
    stream.writeStream(STDERR, Buffer.from('bye\n'));
  });
  router.post('/exec/{id}/start', async (ctx) => {
    const config = await ctx.json<{ Tty?: boolean }>();
    const stream = await ctx.hijack(attachStreamOptions(ctx.apiVersion, config.Tty === true));
    stream.write(Buffer.from(`config=${JSON.stringify(config)}\n`));
    for await (const chunk of stream.input) stream.write(chunk as Buffer);
  });
  return router;
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'berth-hijack-'));
  socketPath = path.join(dir, 'api.sock');
  server = new ApiServer({ router: buildRouter(), logger: createLogger('error', () => undefined), serverVersion: '9.9.9' });
  await server.listen(socketPath);
});

after(async () => {
  await server.close(100);
  rmSync(dir, { recursive: true, force: true });
});

interface ParsedReply {
  status: number;
  statusLine: string;
  headers: Map<string, string>;
  body: Buffer;
}

/** A client that speaks HTTP by hand, as the docker CLI does on a hijacked connection. */
class RawClient {
  readonly socket: net.Socket;
  private data = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  readonly ended: Promise<void>;
  readonly closed: Promise<boolean>;

  constructor(request: string | Buffer, sp = socketPath) {
    this.socket = net.connect({ path: sp, allowHalfOpen: true });
    this.socket.write(request);
    this.socket.on('data', (d: Buffer) => {
      this.data = Buffer.concat([this.data, d]);
      this.wake();
    });
    this.ended = new Promise((resolve) => this.socket.once('end', () => resolve()));
    this.closed = new Promise((resolve) => this.socket.once('close', (hadError) => resolve(hadError)));
    this.socket.once('end', () => this.wake());
    this.socket.on('error', () => undefined);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once what arrived so far satisfies `done`; rejects if the connection ends first. */
  async until(done: (reply: ParsedReply | undefined) => boolean): Promise<ParsedReply> {
    for (;;) {
      const reply = this.parse();
      if (done(reply) && reply) return reply;
      if (this.socket.readableEnded) throw new Error(`connection ended; got ${JSON.stringify(this.data.toString())}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  parse(): ParsedReply | undefined {
    const end = this.data.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const [statusLine = '', ...lines] = this.data.subarray(0, end).toString().split('\r\n');
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    return { status: Number(statusLine.split(' ')[1]), statusLine, headers, body: this.data.subarray(end + 4) };
  }
}

function frames(body: Buffer): StdFrame[] {
  return new StdcopyParser().push(body);
}

function streamText(body: Buffer, stream: number): string {
  return frames(body).filter((f) => f.stream === stream).map((f) => f.data.toString()).join('');
}

const ATTACH = 'POST /v1.50/containers/c0ffee/attach?stderr=1&stdin=1&stdout=1&stream=1 HTTP/1.1\r\nHost: api.moby.localhost\r\n' +
  'User-Agent: Docker-Client/28.0.0 (linux)\r\nContent-Length: 0\r\nConnection: Upgrade\r\nContent-Type: text/plain\r\nUpgrade: tcp\r\n\r\n';

test('upgrade: 101 head, stdin echoed as frames, client half-close seen, then our side ends', async () => {
  // Bytes that arrive with the request head are stdin too.
  const client = new RawClient(ATTACH + 'hello ');
  const first = await client.until((r) => r !== undefined && streamText(r.body, STDOUT) === 'hello ');
  assert.equal(first.statusLine, 'HTTP/1.1 101 UPGRADED');
  assert.equal(first.headers.get('content-type'), MULTIPLEXED_STREAM);
  assert.equal(first.headers.get('connection'), 'Upgrade');
  assert.equal(first.headers.get('upgrade'), 'tcp');
  assert.equal(first.headers.get('api-version'), '1.50');
  assert.equal(first.headers.has('transfer-encoding'), false);

  client.socket.write('world');
  await client.until((r) => r !== undefined && streamText(r.body, STDOUT) === 'hello world');
  client.socket.end(); // CloseWrite, as `docker run -i` does at the end of stdin
  await client.ended;
  const reply = client.parse();
  assert.ok(reply);
  assert.equal(streamText(reply.body, STDOUT), 'hello world');
  assert.equal(streamText(reply.body, STDERR), 'bye\n');
  assert.equal(await client.closed, false);
});

test('upgrade: when our side ends first, the client can still send', async () => {
  const client = new RawClient(ATTACH.replace('c0ffee', 'early'));
  await client.ended;
  const reply = client.parse();
  assert.equal(reply?.status, 101);
  assert.equal(streamText(reply?.body ?? Buffer.alloc(0), STDOUT), 'done\n');
  assert.equal(client.socket.writable, true);
  client.socket.end('late bytes');
  assert.equal(await lateInput, 'late bytes');
  assert.equal(await client.closed, false);
});

test('upgrade: errors before the hijack are ordinary JSON replies', async () => {
  const client = new RawClient(ATTACH.replace('c0ffee', 'missing'));
  await client.ended;
  const reply = client.parse();
  assert.equal(reply?.status, 404);
  assert.equal(reply?.headers.get('content-type'), 'application/json');
  assert.equal(reply?.headers.get('connection'), 'close');
  assert.deepEqual(JSON.parse(reply?.body.toString() ?? ''), { message: 'No such container: missing' });
  client.socket.end();
  await client.closed;
});

test('upgrade: an unknown path is a 404 too', async () => {
  const client = new RawClient(ATTACH.replace('/containers/c0ffee/attach', '/nothing/here'));
  await client.ended;
  assert.equal(client.parse()?.status, 404);
  client.socket.end();
  await client.closed;
});

test('upgrade: an error after the hijack travels in-band as a systemerr frame', async () => {
  const client = new RawClient(ATTACH.replace('c0ffee', 'fail'));
  await client.ended;
  const reply = client.parse();
  assert.equal(reply?.status, 101);
  assert.deepEqual(frames(reply?.body ?? Buffer.alloc(0)).map((f) => [f.stream, f.data.toString()]), [[SYSTEMERR, 'container exploded']]);
  client.socket.end();
  await client.closed;
});

test('upgrade: exec start reads its JSON body, and the bytes after it are stdin', async () => {
  const body = JSON.stringify({ Detach: false, Tty: true });
  const request = 'POST /v1.50/exec/e7ec/start HTTP/1.1\r\nHost: api.moby.localhost\r\nConnection: Upgrade\r\n' +
    `Content-Type: application/json\r\nUpgrade: tcp\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}echo hi\r`;
  const client = new RawClient(request);
  const expected = `config=${body}\necho hi\r`;
  const reply = await client.until((r) => r?.body.toString() === expected);
  assert.equal(reply.statusLine, 'HTTP/1.1 101 UPGRADED');
  assert.equal(reply.headers.get('content-type'), RAW_STREAM);
  client.socket.end();
  await client.ended;
  assert.equal(client.parse()?.body.toString(), expected);
  await client.closed;
});

test('an old API version gets the same frames labelled raw-stream', async () => {
  const client = new RawClient(ATTACH.replace('/v1.50/', '/v1.41/') + 'x');
  const reply = await client.until((r) => r !== undefined && streamText(r.body, STDOUT) === 'x');
  assert.equal(reply.headers.get('content-type'), RAW_STREAM);
  client.socket.end();
  await client.closed;
});

test('without Upgrade: 200, the request body is stdin, the stream runs until the connection closes', async () => {
  const request = 'POST /v1.50/containers/c0ffee/attach?stderr=1&stdin=1&stdout=1&stream=1 HTTP/1.1\r\nHost: x\r\n' +
    'Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n';
  const client = new RawClient(request);
  const first = await client.until((r) => r !== undefined && streamText(r.body, STDOUT) === 'hello');
  assert.equal(first.statusLine, 'HTTP/1.1 200 OK');
  assert.equal(first.headers.get('content-type'), MULTIPLEXED_STREAM);
  assert.equal(first.headers.get('connection'), 'close');
  assert.equal(first.headers.has('transfer-encoding'), false);
  assert.equal(first.headers.has('content-length'), false);
  client.socket.write('6\r\n world\r\n0\r\n\r\n');
  await client.ended;
  const reply = client.parse();
  assert.equal(streamText(reply?.body ?? Buffer.alloc(0), STDOUT), 'hello world');
  assert.equal(streamText(reply?.body ?? Buffer.alloc(0), STDERR), 'bye\n');
  client.socket.end();
  await client.closed;
});

test('without Upgrade: errors are still JSON replies', async () => {
  const client = new RawClient('POST /v1.50/containers/missing/attach?stream=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
  const reply = await client.until((r) => r !== undefined && r.body.length > 0 && r.body.toString().endsWith('\n'));
  assert.equal(reply.status, 404);
  assert.deepEqual(JSON.parse(reply.body.toString()), { message: 'No such container: missing' });
  client.socket.end();
  await client.closed;
});

test('dockerode: attach with hijack', async () => {
  const docker = new Docker({ socketPath });
  const container = docker.getContainer('c0ffee');
  const socket = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex;
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve) => socket.on('end', () => resolve()));
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.write('ping');
  socket.end();
  await done;
  const body = Buffer.concat(chunks);
  assert.equal(streamText(body, STDOUT), 'ping');
  assert.equal(streamText(body, STDERR), 'bye\n');
});

test('dockerode: attach without hijack streams over a 200 response', async () => {
  const docker = new Docker({ socketPath });
  const stream = (await docker.getContainer('c0ffee').attach({ stream: true, stdout: true, stderr: true })) as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve) => stream.on('end', () => resolve()));
  stream.on('data', (d: Buffer) => chunks.push(d));
  await done;
  const body = Buffer.concat(chunks);
  // dockerode sends its options as the request body, which is the input here as on moby.
  assert.deepEqual(JSON.parse(streamText(body, STDOUT)), { stream: true, stdout: true, stderr: true });
  assert.equal(streamText(body, STDERR), 'bye\n');
});

test('closing the server cuts hijacked connections that are still open', async () => {
  const sp = path.join(dir, 'closing.sock');
  const own = new ApiServer({ router: buildRouter(), logger: createLogger('error', () => undefined), serverVersion: '9.9.9' });
  await own.listen(sp);
  const client = new RawClient(ATTACH + 'still here', sp);
  await client.until((r) => r !== undefined && streamText(r.body, STDOUT) === 'still here');
  await own.close(10);
  await client.ended;
  client.socket.end();
  assert.equal(await client.closed, false);
});

const hasDockerCli = spawnSync('docker', ['--version']).status === 0;

baseTest('the real docker CLI: attach sends stdin, closes its side, splits stdout from stderr', { skip: !hasDockerCli, timeout: 30_000 }, async () => {
  const config = mkdtempSync(path.join(dir, 'docker-config-'));
  const env = { ...process.env, DOCKER_HOST: `unix://${socketPath}`, DOCKER_CONFIG: config };
  const res = await runCli('docker', ['attach', 'c0ffee'], { env }, { input: 'hello\nworld\n' });
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout, 'hello\nworld\n');
  assert.equal(res.stderr, 'bye\n');
});
