/**
 * Hijacked connections for attach and exec start. A client that sends `Connection: Upgrade` +
 * `Upgrade: tcp` gets `101 UPGRADED` and then the bare socket both ways; one that does not gets a
 * `200 OK` whose body is the output stream, closed with the connection (as moby does), and whose
 * request body is the input.
 */
import type http from 'node:http';
import { PassThrough, type Duplex, type Readable, type Writable } from 'node:stream';
import { encodeFrame, SYSTEMERR, type StdStream } from '../util/stdcopy.js';

export const RAW_STREAM = 'application/vnd.docker.raw-stream';
export const MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

/**
 * moby's choice: output is framed (stdcopy) exactly when there is no TTY, but only API >= 1.42 says so
 * in the content type; older clients get the same frames labelled raw-stream.
 */
export function attachContentType(apiVersion: string, tty: boolean): string {
  if (tty) return RAW_STREAM;
  const [major = 0, minor = 0] = apiVersion.split('.').map((p) => Number.parseInt(p, 10));
  return major > 1 || (major === 1 && minor >= 42) ? MULTIPLEXED_STREAM : RAW_STREAM;
}

/** The options for an attach or exec stream: frames without a TTY, whatever the content type says. */
export function attachStreamOptions(apiVersion: string, tty: boolean): HijackOptions {
  return { contentType: attachContentType(apiVersion, tty), multiplexed: !tty };
}

export interface HijackOptions {
  /** Defaults to RAW_STREAM. */
  contentType?: string;
  /**
   * Whether `writeStream` frames its output. Defaults to true for MULTIPLEXED_STREAM only; pass true with
   * RAW_STREAM for a non-TTY stream to a client older than API 1.42.
   */
  multiplexed?: boolean;
}

export interface HijackedStream {
  /** The connection itself, after the response head was written. Read from `input`, not from this. */
  readonly socket: Duplex;
  /** What the client sends after the request, including bytes that came with it; ends when the client half-closes. */
  readonly input: Readable;
  readonly contentType: string;
  /** True when `writeStream` wraps output in stdcopy frames. */
  readonly multiplexed: boolean;
  /** True for the 101 upgrade, false for the 200 fallback (whose connection ends with the output). */
  readonly upgraded: boolean;
  /** Aborted when the connection closes before our side ended. */
  readonly signal: AbortSignal;
  /** Raw bytes to the client; false when the caller should wait for `drain()` (or the connection is gone). */
  write(data: Buffer): boolean;
  /** Output for one stream: a stdcopy frame when multiplexed, the bytes as they are otherwise. */
  writeStream(stream: StdStream, data: Buffer): boolean;
  /** Resolves when written output has drained, or the connection closed. */
  drain(): Promise<void>;
  /** Ends our side (moby's CloseWrite); `input` keeps flowing until the client ends its side. */
  closeWrite(): void;
  /** Drops the connection both ways. */
  close(): void;
  /** `cb` runs once the connection is closed (at once if it already is). */
  onClose(cb: () => void): void;
  readonly closed: boolean;
}

function contentLength(req: http.IncomingMessage): number {
  const raw = req.headers['content-length'];
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return 0;
  return Number.parseInt(raw.trim(), 10);
}

/**
 * The socket of an Upgrade request, before the handler decided what to do with it. Node hands over
 * the connection right after the request head, so the request body (exec start's JSON, framed by
 * Content-Length) is still on the socket, followed by the client's stdin; this splits the two.
 * A chunked request body is not decoded: docker clients that send one (dockerode) write raw stdin
 * instead, and moby treats those bytes as stdin too.
 */
export class UpgradeConnection {
  readonly socket: Duplex;
  readonly body = new PassThrough();
  readonly input = new PassThrough();
  private bodyLeft: number;

  constructor(req: http.IncomingMessage, socket: Duplex, head: Buffer) {
    this.socket = socket;
    this.bodyLeft = contentLength(req);
    if (this.bodyLeft === 0) this.body.end();
    // Errors (ECONNRESET, EPIPE) end up as 'close'; without a listener they would crash the daemon.
    socket.on('error', () => undefined);
    this.route(head);
    socket.on('data', (chunk: Buffer) => this.route(chunk));
    const endAll = (): void => {
      if (!this.body.writableEnded) this.body.end();
      if (!this.input.writableEnded) this.input.end();
    };
    socket.on('end', endAll);
    socket.on('close', endAll);
    this.input.on('drain', () => socket.resume());
  }

  private route(chunk: Buffer): void {
    let rest = chunk;
    if (this.bodyLeft > 0 && rest.length > 0) {
      const n = Math.min(this.bodyLeft, rest.length);
      this.body.write(rest.subarray(0, n));
      this.bodyLeft -= n;
      if (this.bodyLeft === 0) this.body.end();
      rest = rest.subarray(n);
    }
    if (rest.length > 0 && !this.input.writableEnded && !this.input.write(rest)) this.socket.pause();
  }
}

/** Resolves once `out` has drained what was written, or closed (a gone client must not hold a writer forever). */
export function drained(out: Writable | Duplex): Promise<void> {
  if (!out.writableNeedDrain || out.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      out.off('drain', done);
      out.off('close', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
  });
}

function writeFor(stream: HijackedStream, streamType: StdStream, data: Buffer): boolean {
  if (data.length === 0) return true;
  return stream.write(stream.multiplexed ? encodeFrame(streamType, data) : data);
}

function isMultiplexed(contentType: string, opts: HijackOptions): boolean {
  return opts.multiplexed ?? contentType === MULTIPLEXED_STREAM;
}

/** Go's canonical form (Api-Version), which is what clients see from moby; Node keeps names lower-cased. */
function canonicalHeaderName(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, sep: string, c: string) => sep + c.toUpperCase());
}

function headerLines(res: http.ServerResponse): string {
  let lines = '';
  for (const [name, value] of Object.entries(res.getHeaders())) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) lines += `${canonicalHeaderName(name)}: ${String(v)}\r\n`;
  }
  return lines;
}

class UpgradedStream implements HijackedStream {
  readonly upgraded = true;
  readonly socket: Duplex;
  readonly input: Readable;
  readonly contentType: string;
  readonly multiplexed: boolean;
  private readonly abort = new AbortController();
  private writeClosed = false;

  constructor(conn: UpgradeConnection, res: http.ServerResponse, opts: HijackOptions) {
    this.socket = conn.socket;
    this.input = conn.input;
    this.contentType = opts.contentType ?? RAW_STREAM;
    this.multiplexed = isMultiplexed(this.contentType, opts);
    // The common headers (Api-Version, Server...) were set on the response; they go out with the 101.
    res.setHeader('Content-Type', this.contentType);
    res.setHeader('Connection', 'Upgrade');
    res.setHeader('Upgrade', 'tcp');
    const head = `HTTP/1.1 101 UPGRADED\r\n${headerLines(res)}\r\n`;
    // From here on the response object must not touch the socket.
    const socket = this.socket as unknown as Parameters<http.ServerResponse['detachSocket']>[0];
    if (res.socket === socket) res.detachSocket(socket);
    this.socket.write(head);
    this.onClose(() => {
      if (!this.writeClosed) this.abort.abort(new Error('client disconnected'));
    });
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get closed(): boolean {
    return this.socket.destroyed;
  }

  write(data: Buffer): boolean {
    if (this.writeClosed || this.socket.destroyed) return false;
    return this.socket.write(data);
  }

  writeStream(stream: StdStream, data: Buffer): boolean {
    return writeFor(this, stream, data);
  }

  drain(): Promise<void> {
    return drained(this.socket);
  }

  closeWrite(): void {
    if (this.writeClosed) return;
    this.writeClosed = true;
    if (!this.socket.destroyed) this.socket.end();
  }

  close(): void {
    this.writeClosed = true;
    this.socket.destroy();
  }

  onClose(cb: () => void): void {
    if (this.socket.closed) queueMicrotask(cb);
    else this.socket.once('close', cb);
  }
}

/** The 200 fallback: the response body is the raw output, the request body the input. */
class ResponseStream implements HijackedStream {
  readonly upgraded = false;
  readonly socket: Duplex;
  readonly input: Readable;
  readonly contentType: string;
  readonly multiplexed: boolean;
  private readonly res: http.ServerResponse;
  private readonly abort = new AbortController();
  private writeClosed = false;

  constructor(req: http.IncomingMessage, res: http.ServerResponse, opts: HijackOptions) {
    this.res = res;
    this.socket = req.socket;
    this.input = req;
    this.contentType = opts.contentType ?? RAW_STREAM;
    this.multiplexed = isMultiplexed(this.contentType, opts);
    // No chunked encoding and no length: the body runs until the connection closes, as with moby.
    res.removeHeader('Transfer-Encoding');
    res.removeHeader('Content-Length');
    res.writeHead(200, { 'Content-Type': this.contentType, Connection: 'close' });
    res.flushHeaders();
    this.onClose(() => {
      if (!res.writableFinished) this.abort.abort(new Error('client disconnected'));
    });
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get closed(): boolean {
    return this.res.closed || this.res.destroyed;
  }

  write(data: Buffer): boolean {
    if (this.writeClosed || this.res.destroyed) return false;
    return this.res.write(data);
  }

  writeStream(stream: StdStream, data: Buffer): boolean {
    return writeFor(this, stream, data);
  }

  drain(): Promise<void> {
    return drained(this.res);
  }

  /** Ends the response; Node then closes the connection, since the body has no other end marker. */
  closeWrite(): void {
    if (this.writeClosed) return;
    this.writeClosed = true;
    if (!this.res.destroyed) this.res.end();
  }

  close(): void {
    this.writeClosed = true;
    this.res.destroy();
  }

  onClose(cb: () => void): void {
    if (this.res.closed) queueMicrotask(cb);
    else this.res.once('close', cb);
  }
}

export function hijackUpgrade(conn: UpgradeConnection, res: http.ServerResponse, opts: HijackOptions = {}): HijackedStream {
  return new UpgradedStream(conn, res, opts);
}

export function hijackResponse(req: http.IncomingMessage, res: http.ServerResponse, opts: HijackOptions = {}): HijackedStream {
  return new ResponseStream(req, res, opts);
}

/** After the handler returned: our side is done; keep reading so the client's EOF can close the connection. */
export function finishHijacked(stream: HijackedStream): void {
  stream.closeWrite();
  stream.input.resume();
}

/**
 * An error after the head went out can only travel in-band: a systemerr frame, which the docker CLI
 * reports as "error from daemon in stream", or a plain line on a raw stream (moby's "Error attaching").
 */
export function failHijacked(stream: HijackedStream, message: string): void {
  const text = Buffer.from(stream.multiplexed ? message : `Error: ${message}\n`);
  stream.writeStream(SYSTEMERR, text);
  finishHijacked(stream);
}
