/**
 * docker's stdcopy framing for non-TTY attach, logs and exec streams: an 8-byte header
 * [stream type, 0, 0, 0, uint32 BE payload size] then the payload. Types: 0 stdin, 1 stdout,
 * 2 stderr, 3 systemerr (the daemon reporting an error in the middle of a stream).
 */
import type { Readable } from 'node:stream';
import { BerthError } from '../errors.js';

export const STDCOPY_HEADER_SIZE = 8;

export type StdStream = 'stdin' | 'stdout' | 'stderr' | 'systemerr';

const STREAM_TYPES: readonly StdStream[] = ['stdin', 'stdout', 'stderr', 'systemerr'];

export interface StdFrame {
  stream: StdStream;
  payload: Buffer;
}

/** Incremental frame parser: feed arbitrary chunks, get the complete frames. */
export class StdcopyParser {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): StdFrame[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: StdFrame[] = [];
    while (this.pending.length >= STDCOPY_HEADER_SIZE) {
      const type = this.pending[0]!;
      const stream = STREAM_TYPES[type];
      if (stream === undefined) throw new BerthError('internal', `Unrecognized input header: ${type}`);
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < STDCOPY_HEADER_SIZE + size) break;
      frames.push({ stream, payload: this.pending.subarray(STDCOPY_HEADER_SIZE, STDCOPY_HEADER_SIZE + size) });
      this.pending = this.pending.subarray(STDCOPY_HEADER_SIZE + size);
    }
    return frames;
  }

  /** Bytes of an unfinished frame (a stream that ends here was cut short). */
  get buffered(): number {
    return this.pending.length;
  }
}

/** One frame's bytes; used by tests and fakes that speak the protocol. */
export function encodeFrame(stream: StdStream, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(STDCOPY_HEADER_SIZE);
  header[0] = STREAM_TYPES.indexOf(stream);
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
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
