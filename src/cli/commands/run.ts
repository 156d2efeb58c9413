/**
 * `create` and `run`, and the attached session they share with `start -a`, `attach` and `exec`:
 * docker's request order (create → [pull → create] → attach → wait → start → resize), stdin pumped
 * into the hijacked socket, output copied raw (TTY) or demultiplexed (stdcopy), and the exit code
 * taken from the wait response.
 */
import type { Command } from 'commander';
import { BerthError, invalidArgument } from '../../errors.js';
import { DaemonError, encodeRegistryAuth, readJson, type ApiResponse, type Query } from '../api-client.js';
import type { CliContext } from '../context.js';
import { hijack, type HijackedConnection } from '../hijack-client.js';
import { displayJsonMessages, type ProgressSink } from '../render/progress.js';
import { copyRaw, demultiplex } from '../stdcopy-reader.js';
import { DEFAULT_DETACH_KEYS, DetachKeyFilter, enterRawMode, onTerminalResize, parseDetachKeys, terminalSize } from '../terminal.js';
import { familiarString, parseReference, repositoryName, withDefaultTag } from '../../registry/reference.js';
import { addCreateFlags, buildCreateRequest, type CreateFlags, type CreateRequest } from './container-options.js';
import { formatCliError, type ContextProvider } from './images.js';
import fs from 'node:fs';

/** Ends the command with a given exit code and no message (a container's exit status). */
export class ExitStatus extends BerthError {
  readonly status: number;
  constructor(status: number, message = '') {
    super('internal', message);
    this.name = 'ExitStatus';
    this.status = status;
  }
  override get exitCode(): number {
    return this.status;
  }
}

/** docker run's failures before the container process runs: "docker: ..." and exit 125 (126/127 for exec errors). */
export function runFailure(e: unknown, command: string, withHelp: boolean): ExitStatus {
  const text = formatCliError(e);
  let status = 125;
  if (/executable file not found|no such file or directory|system cannot find the file specified/.test(text)) status = 127;
  else if (/permission denied|is a directory/.test(text)) status = 126;
  const help = withHelp ? `\n\nRun 'berth ${command} --help' for more information` : '';
  return new ExitStatus(withHelp ? 125 : status, `berth: ${text}${help}`);
}

const discard: ProgressSink = { write: () => true, isTTY: false };

function userAgent(ctx: CliContext): string {
  return `berth-cli/${ctx.clientVersion}`;
}

/** POST /images/create for the image of a run/create, progress on stderr as docker does. */
async function pullImage(ctx: CliContext, image: string, platform: string | undefined, quiet: boolean): Promise<void> {
  const ref = parseReference(image);
  const tagged = ref.tag === undefined && ref.digest === undefined ? withDefaultTag(ref) : ref;
  const query: Query = {
    fromImage: repositoryName(tagged),
    tag: tagged.digest ?? tagged.tag,
    platform: platform ? platform.toLowerCase() : undefined,
  };
  const res = await ctx.client.request('POST', '/images/create', {
    query,
    headers: { 'X-Registry-Auth': encodeRegistryAuth(ctx.config.authForDomain(tagged.domain)) },
  });
  await displayJsonMessages(res.body, quiet ? discard : ctx.io.stderr);
}

function isNoSuchImage(e: unknown): boolean {
  return e instanceof DaemonError && e.status === 404 && /no such image/i.test(e.message);
}

/** Create the container, pulling the image first when --pull says so; returns the ID. */
export async function createContainer(ctx: CliContext, req: CreateRequest, image: string, flags: Pick<CreateFlags, 'pull' | 'quiet' | 'cidfile'>): Promise<string> {
  if (!['always', 'missing', 'never'].includes(flags.pull)) {
    throw invalidArgument(`invalid pull option: '${flags.pull}': must be one of "always", "missing" or "never"`);
  }
  const quiet = flags.quiet === true;
  if (flags.cidfile && fs.existsSync(flags.cidfile)) throw invalidArgument(`container ID file found, make sure the other container isn't running or delete ${flags.cidfile}`);
  if (flags.pull === 'always') await pullImage(ctx, image, req.platform, quiet);
  const create = (): Promise<{ Id: string; Warnings?: string[] | null }> =>
    ctx.client.postJson<{ Id: string; Warnings?: string[] | null }>('/containers/create', {
      query: { name: req.name, platform: req.platform },
      json: req.body,
    });
  let created: { Id: string; Warnings?: string[] | null };
  try {
    created = await create();
  } catch (e) {
    if (!isNoSuchImage(e) || flags.pull !== 'missing') throw e;
    const ref = parseReference(image);
    const shown = ref.tag === undefined && ref.digest === undefined ? withDefaultTag(ref) : ref;
    ctx.err(`Unable to find image '${familiarString(shown)}' locally\n`);
    await pullImage(ctx, image, req.platform, quiet);
    created = await create();
  }
  for (const w of created.Warnings ?? []) ctx.err(`WARNING: ${w}\n`);
  if (flags.cidfile) fs.writeFileSync(flags.cidfile, created.Id, { mode: 0o644 });
  return created.Id;
}

// ---------------------------------------------------------------- the attached session

export interface SessionOptions {
  tty: boolean;
  /** Send the client's stdin into the stream. */
  stdin: boolean;
  detachKeys?: string;
}

/** How an attached session ended. */
export type SessionEnd = 'eof' | 'detached';

/**
 * Pump stdin into the hijacked socket and its output to stdout/stderr until the output ends (or the
 * user typed the detach keys). End of stdin half-closes the socket; the output keeps flowing.
 */
export async function runSession(ctx: CliContext, conn: HijackedConnection, opts: SessionOptions): Promise<SessionEnd> {
  const { socket } = conn;
  const { stdin, stdout, stderr } = ctx.io;
  const restoreTerminal = opts.tty && opts.stdin ? enterRawMode(stdin) : (): void => {};
  const filter = opts.tty && opts.stdin ? new DetachKeyFilter(parseDetachKeys(opts.detachKeys ?? DEFAULT_DETACH_KEYS)) : undefined;
  let detach: (() => void) | undefined;
  const detached = new Promise<SessionEnd>((resolve) => (detach = () => resolve('detached')));
  socket.on('error', () => {
    // surfaced through the output copy below
  });

  const onData = (chunk: Buffer | string): void => {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (!filter) {
      socket.write(buf);
      return;
    }
    const r = filter.filter(buf);
    if (r.forward.length) socket.write(r.forward);
    if (r.detached) detach!();
  };
  const onEnd = (): void => {
    if (!socket.destroyed) socket.end();
  };
  if (opts.stdin) {
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.resume();
  }
  socket.resume();
  const output = (opts.tty ? copyRaw(socket, stdout) : demultiplex(socket, stdout, stderr)).then((): SessionEnd => 'eof');
  try {
    return await Promise.race([output, detached]);
  } finally {
    if (opts.stdin) {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.pause();
    }
    restoreTerminal();
    // let input written just before a detach reach the daemon, then drop the connection
    if (socket.destroyed || socket.writableFinished) socket.destroy();
    else {
      socket.once('finish', () => socket.destroy());
      socket.end();
    }
  }
}

/** Keep the container's TTY at the terminal's size (now and on SIGWINCH); returns the unsubscribe. */
export function followTerminalSize(ctx: CliContext, resizePath: string): () => void {
  const send = (): void => {
    const size = terminalSize(ctx.io.stdout);
    if (!size) return;
    ctx.client
      .request('POST', resizePath, { query: { h: size.height, w: size.width } })
      .then((r) => r.body.resume())
      .catch(() => {
        // a resize racing the container's exit is harmless
      });
  };
  send();
  return onTerminalResize(ctx.io.stdout, send);
}

const PROXIED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/**
 * --sig-proxy: signals the CLI receives go to the container (POST kill?signal=INT) instead of
 * ending the CLI. Only for the real process streams, so in-process test runs never touch handlers.
 */
export function proxySignals(ctx: CliContext, id: string): () => void {
  if (ctx.io.stdout !== process.stdout) return () => {};
  const handlers = PROXIED_SIGNALS.map((sig) => {
    const handler = (): void => {
      ctx.client
        .request('POST', `/containers/${id}/kill`, { query: { signal: sig.slice(3) } })
        .then((r) => r.body.resume())
        .catch((e: unknown) => ctx.err(`error sending signal: ${formatCliError(e)}\n`));
    };
    process.on(sig, handler);
    return [sig, handler] as const;
  });
  return () => {
    for (const [sig, handler] of handlers) process.off(sig, handler);
  };
}

interface WaitResult {
  StatusCode: number;
  Error?: { Message?: string } | null;
}

/** POST /containers/{id}/wait, returning once the daemon answered the head (as docker's client does). */
export async function startWait(ctx: CliContext, id: string, condition: string | undefined, signal?: AbortSignal): Promise<{ result: Promise<WaitResult>; response: ApiResponse }> {
  const response = await ctx.client.request('POST', `/containers/${id}/wait`, { query: { condition }, signal });
  const result = readJson<WaitResult>(response);
  result.catch(() => {});
  return { result, response };
}

export function attachQuery(streams: { stdin: boolean; stdout: boolean; stderr: boolean }, detachKeys: string | undefined): Query {
  return {
    stream: '1',
    stdin: streams.stdin ? '1' : undefined,
    stdout: streams.stdout ? '1' : undefined,
    stderr: streams.stderr ? '1' : undefined,
    detachKeys,
  };
}

/** The exit code from a wait result; a daemon-reported wait error is printed. */
function exitFromWait(ctx: CliContext, w: WaitResult): number {
  if (w.Error?.Message) {
    ctx.err(`${w.Error.Message}\n`);
    return 125;
  }
  return w.StatusCode;
}

interface RunFlags extends CreateFlags {
  detach?: boolean;
  detachKeys?: string;
}

function consoleSize(ctx: CliContext): [number, number] | undefined {
  const size = terminalSize(ctx.io.stdout);
  return size ? [size.height, size.width] : undefined;
}

export async function runContainer(ctx: CliContext, image: string, args: string[], flags: RunFlags): Promise<void> {
  const detach = flags.detach === true;
  let req: CreateRequest;
  try {
    req = buildCreateRequest(flags, image, args, { env: ctx.io.env, consoleSize: consoleSize(ctx), detach });
  } catch (e) {
    throw runFailure(e, 'run', true);
  }
  if (!detach && req.attach.stdin && req.tty && !ctx.io.stdin.isTTY) {
    throw new ExitStatus(1, 'the input device is not a TTY');
  }
  let id: string;
  try {
    id = await createContainer(ctx, req, image, flags);
  } catch (e) {
    throw runFailure(e, 'run', true);
  }
  const condition = req.autoRemove ? 'removed' : 'next-exit';

  if (detach) {
    const abort = new AbortController();
    const wait = await startWait(ctx, id, condition, abort.signal);
    try {
      await ctx.client.request('POST', `/containers/${id}/start`).then((r) => r.body.resume());
    } catch (e) {
      throw runFailure(e, 'run', false);
    } finally {
      // docker leaves with the wait unanswered
      wait.response.body.on('error', () => {});
      abort.abort();
    }
    ctx.out(id + '\n');
    return;
  }

  const streams = req.attach;
  const attached = streams.stdin || streams.stdout || streams.stderr;
  const conn = attached
    ? await hijack(ctx.client, 'POST', `/containers/${id}/attach`, { query: attachQuery(streams, flags.detachKeys), userAgent: userAgent(ctx) })
    : undefined;
  const wait = await startWait(ctx, id, condition);
  try {
    await ctx.client.request('POST', `/containers/${id}/start`).then((r) => r.body.resume());
  } catch (e) {
    conn?.socket.destroy();
    if (req.autoRemove) await wait.result.catch(() => undefined);
    throw runFailure(e, 'run', false);
  }
  const stopResize = req.tty && ctx.io.stdout.isTTY ? followTerminalSize(ctx, `/containers/${id}/resize`) : (): void => {};
  // docker proxies signals only without a TTY (with one, ^C reaches the container through the terminal)
  const stopProxy = !req.tty && flags.sigProxy !== false ? proxySignals(ctx, id) : (): void => {};
  try {
    if (conn) {
      const end = await runSession(ctx, conn, { tty: req.tty, stdin: streams.stdin, detachKeys: flags.detachKeys });
      if (end === 'detached') {
        wait.response.body.destroy();
        return;
      }
    }
    const code = exitFromWait(ctx, await wait.result);
    if (code !== 0) throw new ExitStatus(code);
  } finally {
    stopResize();
    stopProxy();
  }
}

// ---------------------------------------------------------------- registration

function defineCreate(cmd: Command, context: ContextProvider): Command {
  return addCreateFlags(cmd, false)
    .description('Create a new container')
    .argument('<IMAGE>')
    .argument('[COMMAND...]')
    .passThroughOptions()
    .action(async (image: string, args: string[], flags: CreateFlags) => {
      const ctx = context();
      let req: CreateRequest;
      try {
        req = buildCreateRequest(flags, image, args, { env: ctx.io.env, consoleSize: consoleSize(ctx), detach: false });
      } catch (e) {
        throw runFailure(e, 'create', true);
      }
      try {
        ctx.out((await createContainer(ctx, req, image, flags)) + '\n');
      } catch (e) {
        throw runFailure(e, 'create', true);
      }
    });
}

function defineRun(cmd: Command, context: ContextProvider): Command {
  return addCreateFlags(cmd, true)
    .description('Create and run a new container from an image')
    .argument('<IMAGE>')
    .argument('[COMMAND...]')
    .passThroughOptions()
    .action(async (image: string, args: string[], flags: RunFlags) => {
      await runContainer(context(), image, args, flags);
    });
}

export function registerRunCommands(program: Command, group: Command, context: ContextProvider): void {
  defineCreate(program.command('create'), context);
  defineRun(program.command('run'), context);
  defineCreate(group.command('create'), context);
  defineRun(group.command('run'), context);
}
