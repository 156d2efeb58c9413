/**
 * `docker logs` output built straight from the log reader: messages are copied into ~1 MiB output buffers, and
 * consecutive messages of the same stream share one stdcopy frame. A 100 MB log of short lines is then some hundred
 * writes and frames instead of millions, which is what lets the docker CLI (which demuxes frame by frame, one write
 * per frame) keep up with the disk.
 */
import type { LogVisitor } from '../../runtime/container-log.js';
import type { OutputStream } from '../../runtime/runtime-types.js';
import { FRAME_HEADER_SIZE, STDERR, STDOUT } from '../../util/stdcopy.js';

export interface FrameSink {
  /** false: the sink is full; wait for drain() before writing more. */
  write(chunk: Buffer): boolean;
  drain(): Promise<void>;
}

export interface LogFrameOptions {
  /** stdcopy frames (no TTY); raw bytes otherwise. */
  framed: boolean;
  /** Prefix each message with its time (Docker's RFC3339Nano, "Z") and a space. */
  timestamps: boolean;
  /** Output buffer size, also the largest frame unless one message is bigger. */
  bufferSize?: number;
}

const DEFAULT_BUFFER = 1 << 20;
/** Room for "2026-11-29T20:38:06.484138642Z " and any longer time another writer may have used. */
const TIME_ROOM = 64;
const UTC_SUFFIX = Buffer.from('+00:00');
const Z = 0x5a;
const SP = 0x20;

export class LogFrameWriter implements LogVisitor {
  private readonly size: number;
  private buf: Buffer;
  private used = 0;
  /** Where the open frame's header is, or -1. */
  private frameAt = -1;
  private frameStream: OutputStream | undefined;
  private readonly done: Buffer[] = [];

  constructor(
    private readonly sink: FrameSink,
    private readonly opts: LogFrameOptions,
  ) {
    this.size = opts.bufferSize ?? DEFAULT_BUFFER;
    this.buf = Buffer.allocUnsafe(this.size);
  }

  message(stream: OutputStream, data: Buffer, start: number, end: number, time: Buffer, timeStart: number, timeEnd: number): void {
    const len = end - start;
    const need = len + (this.opts.timestamps ? timeEnd - timeStart + TIME_ROOM : 0);
    const header = this.opts.framed && (this.frameStream !== stream || this.frameAt < 0) ? FRAME_HEADER_SIZE : 0;
    if (this.used + header + need > this.buf.length) {
      this.seal();
      this.buf = Buffer.allocUnsafe(Math.max(this.size, need + FRAME_HEADER_SIZE));
    }
    if (this.opts.framed && (this.frameAt < 0 || this.frameStream !== stream)) {
      this.closeFrame();
      this.frameAt = this.used;
      this.frameStream = stream;
      this.buf[this.used] = stream === 'stdout' ? STDOUT : STDERR;
      this.buf[this.used + 1] = 0;
      this.buf[this.used + 2] = 0;
      this.buf[this.used + 3] = 0;
      this.used += FRAME_HEADER_SIZE;
    }
    if (this.opts.timestamps) this.used = writeDockerTime(this.buf, this.used, time, timeStart, timeEnd);
    this.used += data.copy(this.buf, this.used, start, end);
  }

  flush(): void | Promise<void> {
    this.seal();
    // What is left of the buffer is still free to fill; a small rest is not worth keeping.
    if (this.buf.length < this.size >> 4) this.buf = Buffer.allocUnsafe(this.size);
    let full = false;
    for (const chunk of this.done.splice(0)) if (!this.sink.write(chunk)) full = true;
    return full ? this.sink.drain() : undefined;
  }

  /** Ends the open frame by writing its size into its header. */
  private closeFrame(): void {
    if (this.frameAt < 0) return;
    this.buf.writeUInt32BE(this.used - this.frameAt - FRAME_HEADER_SIZE, this.frameAt + 4);
    this.frameAt = -1;
    this.frameStream = undefined;
  }

  /** Moves the filled part of the buffer to the output list; the rest stays to be filled. */
  private seal(): void {
    this.closeFrame();
    if (this.used > 0) this.done.push(this.buf.subarray(0, this.used));
    this.buf = this.buf.subarray(this.used);
    this.used = 0;
  }
}

/** conmon's "+00:00" becomes Docker's "Z"; then a space. Returns the new write position. */
function writeDockerTime(out: Buffer, at: number, time: Buffer, start: number, end: number): number {
  const utc = end - start >= 6 && time.compare(UTC_SUFFIX, 0, 6, end - 6, end) === 0;
  let pos = at + time.copy(out, at, start, utc ? end - 6 : end);
  if (utc) out[pos++] = Z;
  out[pos++] = SP;
  return pos;
}
