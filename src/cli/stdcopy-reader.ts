/**
 * docker's stdcopy framing for non-TTY attach, logs and exec streams: an 8-byte header
 * [stream type, 0, 0, 0, uint32 BE payload size] then the payload. Types: 0 stdin, 1 stdout,
 * 2 stderr, 3 systemerr (the daemon reporting an error in the middle of a stream).
 */
import type { Readable } from 'node:stream';
import { BerthError } from '../errors.js';
import { StdcopyParser as WireParser, encodeFrame as encodeWireFrame, type StdStream as WireStream } from '../util/stdcopy.js';

/** The CLI names streams; the wire format (src/util/stdcopy.ts) numbers them. */
export type StdStream = 'stdin' | 'stdout' | 'stderr' | 'systemerr';

const STREAM_NAMES: readonly StdStream[] = ['stdin', 'stdout', 'stderr', 'systemerr'];

export interface StdFrame {
  stream: StdStream;
  payload: Buffer;
}

/** The shared frame parser, with stream names and docker's wording for a bad header. */
export class StdcopyParser {
  private readonly inner = new WireParser();

  push(chunk: Buffer): StdFrame[] {
    try {
      return this.inner.push(chunk).map((f) => ({ stream: STREAM_NAMES[f.stream]!, payload: f.data }));
    } catch {
      const type = chunk[0] ?? 0;
      throw new BerthError('internal', `Unrecognized input header: ${type}`);
    }
  }

  /** Bytes of an unfinished frame (a stream that ends here was cut short). */
  get buffered(): number {
    return this.inner.pending;
  }
}

/** One frame's bytes; used by tests and fakes that speak the protocol. */
export function encodeFrame(stream: StdStream, payload: Buffer | string): Buffer {
  return encodeWireFrame(STREAM_NAMES.indexOf(stream) as WireStream, typeof payload === 'string' ? Buffer.from(payload) : payload);
}

export interface WriteTarget {
  write(chunk: Buffer): unknown;
}

/** An error the daemon sent inside the stream (systemerr frame). */
export class StreamSystemError extends BerthError {
  constructor(message: string) {
    super('internal', message);
    this.name = 'StreamSystemError';
  }
}

/**
 * stdcopy.StdCopy: copy frames from `source` to stdout/stderr until the stream ends. A systemerr
 * frame ends the copy with its text as the error, as docker does.
 */
export async function demultiplex(source: AsyncIterable<Buffer | string>, stdout: WriteTarget, stderr: WriteTarget): Promise<void> {
  const parser = new StdcopyParser();
  for await (const chunk of source) {
    for (const frame of parser.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)) {
      if (frame.stream === 'systemerr') throw new StreamSystemError(frame.payload.toString('utf8'));
      if (frame.stream === 'stderr') stderr.write(frame.payload);
      else stdout.write(frame.payload);
    }
  }
}

/** Copy a raw (TTY) stream as is. */
export async function copyRaw(source: Readable | AsyncIterable<Buffer | string>, out: WriteTarget): Promise<void> {
  for await (const chunk of source) out.write(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
}
