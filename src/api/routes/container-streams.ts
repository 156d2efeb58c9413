/** Container output and input: logs (stdcopy), attach (hijacked), resize. */
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { archivePath, extractInto, statPath } from '../../engine/containers/archive.js';
import type { Engine } from '../../engine/engine.js';
import type { ExecConfig, ExecPipes } from '../../engine/containers/exec-service.js';
import { parseTimestamp } from '../../engine/images/filters.js';
import { invalidArgument } from '../../errors.js';
import { DEFAULT_DETACH_KEYS, DetachKeyFilter, parseDetachKeys } from '../detach-keys.js';
import { AttachSocket } from '../../runtime/attach-socket.js';
import { LogFrameWriter } from '../../engine/containers/log-frames.js';
import type { RequestContext } from '../context.js';
import { attachContentType, attachStreamOptions, drained, type HijackedStream } from '../hijack.js';
import type { Router } from '../router.js';
import { STDERR, STDOUT, type StdStream } from '../../util/stdcopy.js';

function nsBound(ctx: RequestContext, name: string): bigint | undefined {
  const v = ctx.query.get(name);
  if (!v || v === '0') return undefined;
  return BigInt(Math.round(parseTimestamp(v))) * 1_000_000n;
}

async function streamLogs(ctx: RequestContext, engine: Engine): Promise<void> {
  const logs = engine.containers.openLogs(ctx.params.id, {
    stdout: ctx.bool('stdout'),
    stderr: ctx.bool('stderr'),
    follow: ctx.bool('follow'),
    since: nsBound(ctx, 'since'),
    until: nsBound(ctx, 'until'),
    tail: ctx.query.get('tail'),
  });
  ctx.res.writeHead(200, { 'Content-Type': attachContentType(ctx.apiVersion, logs.tty) });
  ctx.res.flushHeaders();
  const res = ctx.res;
  const gone = new AbortController();
  ctx.signal.addEventListener('abort', () => gone.abort(), { once: true });
  const frames = new LogFrameWriter({ write: (chunk) => res.write(chunk), drain: () => drained(res) }, { framed: !logs.tty, timestamps: ctx.bool('timestamps') });
  await logs.read(
    {
      // bind, not a rest/spread wrapper: this runs once per line.
      message: frames.message.bind(frames),
      flush: () => (res.destroyed ? gone.abort() : frames.flush()),
    },
    gone.signal,
  );
  res.end();
}

/**
 * Joins a hijacked client stream to conmon's attach socket: output (the wanted streams) to the client, the client's
 * input to the process; `closeStdin` says whether the client's end of input closes the process's stdin.
 * Resolves once connected, with `ended`: settled when conmon closes the socket (the process ended) or the client went
 * away. Connecting before the process starts is what keeps `docker run` from losing output.
 */
async function bridge(
  stream: HijackedStream,
  attachPath: string,
  opts: { stdout: boolean; stderr: boolean; stdin: boolean; closeStdin: boolean; detachKeys?: Buffer },
): Promise<{ ended: Promise<void>; detached: () => boolean }> {
  const sock = await AttachSocket.connect(attachPath);
  let detach!: () => void;
  const ended = new Promise<void>((resolve) => {
    sock.onClose(resolve);
    stream.onClose(resolve);
    detach = resolve;
  });
  const filter = opts.detachKeys ? new DetachKeyFilter(opts.detachKeys) : undefined;
  sock.onData((which, data) => {
    if (which === 'stdout' ? opts.stdout : opts.stderr) stream.writeStream(which === 'stdout' ? STDOUT : STDERR, data);
  });
  stream.onClose(() => sock.close());
  if (opts.stdin) {
    stream.input.on('data', (d: Buffer) => {
      if (!filter) return sock.write(d);
      const pass = filter.push(d);
      if (pass.length > 0) sock.write(pass);
      if (filter.detached) {
        // Detached: the process keeps running; only this attachment ends.
        stream.input.pause();
        sock.close();
        detach();
      }
    });
    stream.input.on('end', () => {
      if (opts.closeStdin) sock.closeStdin();
    });
  } else {
    stream.input.resume();
  }
  return { ended, detached: () => filter?.detached ?? false };
}

/**
 * Joins a hijacked client stream to a process's own pipes (a direct exec): output in the same framing as `bridge`,
 * the client's half-close closes the process's stdin. Resolves once both outputs ended, or at once when the
 * client goes away: the process is left to run (as Docker does), its output read and dropped so it never blocks.
 */
function pipeExec(stream: HijackedStream, pipes: ExecPipes, opts: { stdout: boolean; stderr: boolean; stdin: boolean }): Promise<void> {
  const outputs: [Readable, StdStream, boolean][] = [
    [pipes.stdout, STDOUT, opts.stdout],
    [pipes.stderr, STDERR, opts.stderr],
  ];
  const done = outputs.map(
    ([source, which, wanted]) =>
      new Promise<void>((resolve) => {
        source.on('error', () => undefined);
        source.once('close', resolve);
        source.on('data', (d: Buffer) => {
          if (!wanted || stream.closed) return;
          if (!stream.writeStream(which, d)) {
            source.pause();
            void stream.drain().then(() => source.resume());
          }
        });
      }),
  );
  const stdin = pipes.stdin;
  if (opts.stdin && stdin) {
    stream.input.pipe(stdin);
  } else {
    stdin?.end();
    stream.input.resume();
  }
  const gone = new Promise<void>((resolve) => stream.onClose(resolve));
  void gone.then(() => {
    stream.input.unpipe();
    stdin?.end();
  });
  return Promise.race([Promise.all(done).then(() => undefined), gone]);
}

/** The attach's detach keys: the request's, else the daemon default; only a TTY's stdin is watched (as in moby). */
function detachKeysFor(spec: string | null | undefined, tty: boolean, stdin: boolean, message: string): Buffer | undefined {
  const text = spec || DEFAULT_DETACH_KEYS;
  const keys = parseDetachKeys(text);
  if (!keys) throw invalidArgument(message.replace('%s', text));
  return tty && stdin ? keys : undefined;
}

async function attach(ctx: RequestContext, engine: Engine): Promise<void> {
  const target = engine.containers.attachTarget(ctx.params.id);
  const wantStdin = ctx.bool('stdin') && target.openStdin;
  const wantOut = ctx.bool('stdout');
  const wantErr = ctx.bool('stderr');
  const detachKeys = detachKeysFor(ctx.query.get('detachKeys'), target.tty, wantStdin, 'Invalid detach keys (%s) provided');
  const stream = await ctx.hijack(attachStreamOptions(ctx.apiVersion, target.tty));

  // The handler lasts as long as the attachment: when it returns, the server ends our side of the stream.
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  stream.onClose(finished);

  const connect = async (attachPath: string | undefined): Promise<void> => {
    if (attachPath === undefined) return finished();
    const { ended } = await bridge(stream, attachPath, { stdout: wantOut, stderr: wantErr, stdin: wantStdin, closeStdin: target.stdinOnce, detachKeys });
    void ended.then(finished);
  };
  if (target.running) {
    await connect(target.attachPath);
  } else {
    // Attached before start (docker run): connected once conmon is up, before the process runs.
    const cancel = engine.containers.onNextStart(target.id, connect);
    stream.onClose(cancel);
  }
  await done;
}

async function archive(ctx: RequestContext, engine: Engine, head: boolean): Promise<void> {
  const p = ctx.query.get('path') ?? '';
  await engine.containers.withRootfs(ctx.params.id, async (root, label) => {
    const st = await statPath(root, p, label);
    ctx.res.setHeader('X-Docker-Container-Path-Stat', Buffer.from(JSON.stringify(st)).toString('base64'));
    if (head) {
      ctx.sendStatus(200);
      return;
    }
    const tar = await archivePath(root, p, label);
    ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    await pipeline(tar, ctx.res);
  });
}

export function registerContainerStreamRoutes(router: Router, engine: Engine): void {
  router.head('/containers/{id}/archive', (ctx) => archive(ctx, engine, true));
  router.get('/containers/{id}/archive', (ctx) => archive(ctx, engine, false));
  router.put('/containers/{id}/archive', async (ctx) => {
    const p = ctx.query.get('path') ?? '';
    const body = ctx.req.pipe(new PassThrough({ highWaterMark: 1 << 20 }));
    await engine.containers.withRootfs(ctx.params.id, (root, label) => extractInto(root, p, body, label));
    ctx.sendStatus(200);
  });
  router.get('/containers/{id}/logs', (ctx) => streamLogs(ctx, engine));
  router.post('/containers/{id}/attach', (ctx) => attach(ctx, engine));
  router.post('/containers/{id}/resize', async (ctx) => {
    const h = ctx.int('h', 0) ?? 0;
    const w = ctx.int('w', 0) ?? 0;
    await engine.containers.resize(ctx.params.id, h, w);
    ctx.sendStatus(200);
  });
}

export function registerExecRoutes(router: Router, engine: Engine): void {
  router.post('/containers/{id}/exec', async (ctx) => {
    const body = await ctx.json<ExecConfig>();
    // moby checks exec's keys at create, with its own wording.
    if (body.DetachKeys) detachKeysFor(body.DetachKeys, false, false, 'Invalid escape keys (%s) provided');
    ctx.sendJson(201, { Id: engine.execs.create(ctx.params.id, body) });
  });

  router.post('/exec/{id}/start', async (ctx) => {
    const body = ctx.req.headers['content-length'] === '0' ? {} : await ctx.json<{ Detach?: boolean; Tty?: boolean; ConsoleSize?: [number, number] }>().catch(() => ({}));
    const config = engine.execs.config(ctx.params.id);
    const tty = config.Tty ?? false;
    const wanted = { stdout: config.AttachStdout ?? false, stderr: config.AttachStderr ?? false, stdin: config.AttachStdin ?? false };
    if (body.Detach) {
      const started = await engine.execs.start(ctx.params.id, { attach: false });
      await started.go();
      ctx.sendStatus(200);
      return;
    }
    const started = await engine.execs.start(ctx.params.id, { attach: true });
    const stream = await ctx.hijack(attachStreamOptions(ctx.apiVersion, tty));
    if (started.pipes) {
      await pipeExec(stream, started.pipes, wanted);
      // The exit code is known before the client asks for it (exec inspect right after the stream ends).
      if (!stream.closed) await started.exited.catch(() => undefined);
      return;
    }
    const detachKeys = detachKeysFor(config.DetachKeys, tty, wanted.stdin, 'Invalid escape keys (%s) provided');
    const { ended, detached } = await bridge(stream, started.attachPath!, { ...wanted, closeStdin: true, detachKeys });
    if (body.ConsoleSize && tty) await engine.execs.resize(ctx.params.id, body.ConsoleSize[0], body.ConsoleSize[1]).catch(() => undefined);
    await started.go();
    // A detach leaves the process running: the attachment ends without waiting for its exit.
    await Promise.race([started.exited.catch(() => undefined), ended.then(() => (detached() ? undefined : new Promise<never>(() => undefined)))]);
    await ended;
  });

  router.post('/exec/{id}/resize', async (ctx) => {
    await engine.execs.resize(ctx.params.id, ctx.int('h', 0) ?? 0, ctx.int('w', 0) ?? 0);
    ctx.sendStatus(200);
  });

  router.get('/exec/{id}/json', (ctx) => ctx.sendJson(200, engine.execs.inspect(ctx.params.id)));
}
