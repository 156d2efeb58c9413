/**
 * Docker's multiplexed stream framing (moby's pkg/stdcopy), used on attach, exec and logs when the
 * container has no TTY: each frame is an 8-byte header [stream, 0, 0, 0, uint32 BE size] and the payload.
 */
import { Transform, type TransformCallback } from 'node:stream';

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
/** The daemon's own error, in-band: the docker CLI prints "error from daemon in stream: <payload>". */
export const SYSTEMERR = 3;

export type StdStream = typeof STDIN | typeof STDOUT | typeof STDERR | typeof SYSTEMERR;

export const FRAME_HEADER_SIZE = 8;
const MAX_FRAME_SIZE = 0xffff_ffff;

export interface StdFrame {
  stream: StdStream;
  data: Buffer;
}

export function isStdStream(value: number): value is StdStream {
  return value === STDIN || value === STDOUT || value === STDERR || value === SYSTEMERR;
}

export function encodeFrameHeader(stream: StdStream, size: number): Buffer {
  if (!Number.isInteger(size) || size < 0 || size > MAX_FRAME_SIZE) throw new RangeError(`frame size out of range: ${size}`);
  const header = Buffer.alloc(FRAME_HEADER_SIZE);
  header[0] = stream;
  header.writeUInt32BE(size, 4);
  return header;
}

export function encodeFrame(stream: StdStream, data: Buffer): Buffer {
  return Buffer.concat([encodeFrameHeader(stream, data.length), data]);
}

/** Wraps every chunk written to it in a frame of one stream type (moby's StdWriter). Empty chunks are dropped. */
export class StdcopyMuxer extends Transform {
  private readonly stream: StdStream;

  constructor(stream: StdStream) {
    super();
    this.stream = stream;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (chunk.length > 0) this.push(encodeFrame(this.stream, chunk));
    callback();
  }
}

/**
 * Incremental frame parser: bytes in any chunking, whole frames out. Kept separate from the stream
 * class so the CLI can feed it from wherever its bytes come from.
 */
export class StdcopyParser {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** Adds bytes and returns the frames they complete. Throws on a header with an unknown stream type. */
  push(chunk: Buffer): StdFrame[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: StdFrame[] = [];
    while (this.buffered >= FRAME_HEADER_SIZE) {
      const header = this.peekHeader();
      const type = header[0] ?? 0;
      if (!isStdStream(type)) throw new Error(`unrecognized stream type ${type} in multiplexed stream`);
      const size = header.readUInt32BE(4);
      if (this.buffered < FRAME_HEADER_SIZE + size) break;
      this.take(FRAME_HEADER_SIZE);
      frames.push({ stream: type, data: this.take(size) });
    }
    return frames;
  }

  /** Bytes of an incomplete frame still waiting for the rest. */
  get pending(): number {
    return this.buffered;
  }

  private peekHeader(): Buffer {
    const first = this.chunks[0];
    if (first && first.length >= FRAME_HEADER_SIZE) return first;
    // A header split across chunks: join just enough chunks once.
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined;
  }

  private take(n: number): Buffer {
    const parts: Buffer[] = [];
    let needed = n;
    while (needed > 0) {
      const chunk = this.chunks[0];
      if (!chunk) throw new Error('stdcopy parser: took more than buffered');
      if (chunk.length <= needed) {
        parts.push(chunk);
        this.chunks.shift();
        needed -= chunk.length;
      } else {
        parts.push(chunk.subarray(0, needed));
        this.chunks[0] = chunk.subarray(needed);
        needed = 0;
      }
    }
    this.buffered -= n;
    return parts.length === 1 ? (parts[0] ?? Buffer.alloc(0)) : Buffer.concat(parts, n);
  }
}

/**
 * Bytes in, `StdFrame` objects out. A stream that ends in the middle of a frame is an error, as a
 * truncated frame would otherwise pass for a complete output.
 */
export class StdcopyDemuxer extends Transform {
  private readonly parser = new StdcopyParser();

  constructor() {
    super({ readableObjectMode: true });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let frames: StdFrame[];
    try {
      frames = this.parser.push(chunk);
    } catch (err) {
      callback(err as Error);
      return;
    }
    for (const frame of frames) this.push(frame);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    const pending = this.parser.pending;
    callback(pending === 0 ? null : new Error(`multiplexed stream ended inside a frame (${pending} bytes left over)`));
  }
}
