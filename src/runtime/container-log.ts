import { type FSWatcher, watch } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import type { LogEntry, LogRecord, OutputStream, ReadLogOptions } from './runtime-types.js';

export type { LogEntry, LogRecord, ReadLogOptions } from './runtime-types.js';

/**
 * conmon's k8s-file (CRI) log: one record per line,
 *   `2026-11-29T20:38:06.484138642+00:00 stdout F hello`
 * time (RFC3339Nano), stream, tag (F full line / P partial: continued in the stream's next record),
 * then the raw bytes with the newline removed. Lines over 8 KiB arrive as P,P,...,F.
 *
 * The reader is built for big logs: 1 MiB reads, lines found with Buffer.indexOf, and messages handed
 * out as views into the read buffer (the record's own trailing '\n' is the restored newline), so a
 * complete line costs no copy. Only partial lines are joined by copying.
 */

const NL = 0x0a;
const SP = 0x20;
const CHUNK = 1 << 20;
const TAIL_BLOCK = 256 << 10;
/** A partial message held longer than this is handed out in pieces rather than grown without bound. */
const PENDING_MAX = 1 << 20;

interface Fields {
  /** End of the time field. */
  timeEnd: number;
  stream: OutputStream;
  partial: boolean;
  contentStart: number;
}

/** conmon's time field is always this long (nanoseconds, +00:00); other writers may differ. */
const CONMON_TIME_LEN = 35;

/** Finds the fields of the record in buf[start, end) (end excludes the newline). */
function splitRecord(buf: Buffer, start: number, end: number): Fields | undefined {
  // Byte checks instead of compare(): this runs once per line of logs that can be 100s of MB.
  let sp1 = start + CONMON_TIME_LEN;
  if (sp1 >= end || buf[sp1] !== SP) {
    sp1 = buf.indexOf(SP, start);
    if (sp1 < 0 || sp1 >= end) return undefined;
  }
  const sp2 = sp1 + 7;
  if (sp2 >= end || buf[sp2] !== SP) return undefined;
  if (buf[sp1 + 1] !== 0x73 || buf[sp1 + 2] !== 0x74 || buf[sp1 + 3] !== 0x64) return undefined; // "std"
  let stream: OutputStream;
  const a = buf[sp1 + 4];
  const b = buf[sp1 + 5];
  const c = buf[sp1 + 6];
  if (a === 0x6f && b === 0x75 && c === 0x74) stream = 'stdout';
  else if (a === 0x65 && b === 0x72 && c === 0x72) stream = 'stderr';
  else return undefined;
  // The tag may carry more flags after ':' (CRI), so look for the next space rather than assume one byte.
  let sp3 = sp2 + 2;
  if (sp3 < end && buf[sp3] !== SP) {
    sp3 = buf.indexOf(SP, sp2 + 1);
    if (sp3 < 0 || sp3 > end) sp3 = end;
  }
  return { timeEnd: sp1, stream, partial: buf[sp2 + 1] === 0x50 /* P */, contentStart: Math.min(sp3 + 1, end) };
}

function digits(buf: Buffer, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const d = (buf[i] as number) - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return v;
}

/** Seconds and nanoseconds since the epoch of an RFC3339(Nano) time in buf[start, end); NaN seconds when malformed. */
function parseTime(buf: Buffer, start: number, end: number): { sec: number; nsec: number } {
  const bad = { sec: NaN, nsec: 0 };
  if (end - start < 20 || buf[start + 10] !== 0x54 /* T */) return bad;
  const ms = Date.UTC(
    digits(buf, start, 4),
    digits(buf, start + 5, 2) - 1,
    digits(buf, start + 8, 2),
    digits(buf, start + 11, 2),
    digits(buf, start + 14, 2),
    digits(buf, start + 17, 2),
  );
  let i = start + 19;
  let nsec = 0;
  if (buf[i] === 0x2e /* . */) {
    i++;
    let scale = 100_000_000;
    while (i < end) {
      const d = (buf[i] as number) - 48;
      if (d < 0 || d > 9) break;
      nsec += d * scale;
      scale /= 10;
      i++;
    }
    nsec = Math.round(nsec);
  }
  let offset = 0;
  const sign = buf[i];
  if (sign === 0x2b /* + */ || sign === 0x2d /* - */) {
    if (end - i < 6) return bad;
    offset = (digits(buf, i + 1, 2) * 60 + digits(buf, i + 4, 2)) * 60 * (sign === 0x2d ? -1 : 1);
  } else if (sign !== 0x5a /* Z */) return bad;
  return { sec: ms / 1000 - offset, nsec };
}

/** One record (a log line without its newline); undefined when it is not a k8s-file record. */
export function parseLogLine(line: Buffer): LogRecord | undefined {
  let end = line.length;
  if (end > 0 && line[end - 1] === NL) end--;
  const f = splitRecord(line, 0, end);
  if (!f) return undefined;
  const t = parseTime(line, 0, f.timeEnd);
  if (Number.isNaN(t.sec)) return undefined;
  return {
    time: line.toString('latin1', 0, f.timeEnd),
    timeNs: BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec),
    stream: f.stream,
    partial: f.partial,
    content: line.subarray(f.contentStart, end),
  };
}

/** Splits a bigint of nanoseconds into numbers that compare exactly (ns since epoch overflow 2^53). */
function splitNs(ns: bigint): { sec: number; nsec: number } {
  let sec = ns / 1_000_000_000n;
  let nsec = ns % 1_000_000_000n;
  if (nsec < 0n) {
    nsec += 1_000_000_000n;
    sec -= 1n;
  }
  return { sec: Number(sec), nsec: Number(nsec) };
}

function cmpTime(a: { sec: number; nsec: number }, b: { sec: number; nsec: number }): number {
  return a.sec !== b.sec ? a.sec - b.sec : a.nsec - b.nsec;
}

interface Pending {
  time: string;
  timeStart: Buffer;
  timeEnd: number;
  parts: Buffer[];
  size: number;
}

/**
 * The log's messages, one at a time. For high volume, readLogBatches hands out the same entries an
 * array per read, which saves the per-message cost of async iteration.
 */
export async function* readLog(path: string, opts: ReadLogOptions): AsyncIterable<LogEntry> {
  for await (const batch of readLogBatches(path, opts)) yield* batch;
}

/** Like readLog, one array of messages per read of the file. */
export async function* readLogBatches(path: string, opts: ReadLogOptions): AsyncGenerator<LogEntry[]> {
  const want = (s: OutputStream): boolean => (s === 'stdout' ? opts.stdout : opts.stderr);
  if (!opts.stdout && !opts.stderr) return;
  const since = opts.since !== undefined ? bound(opts.since) : undefined;
  const until = opts.until !== undefined ? bound(opts.until) : undefined;
  const signal = opts.signal;

  let fh = await openLog(path);
  if (!fh) return;
  const follower = opts.follow ? new Follower(path, signal) : undefined;
  try {
    let position = 0;
    let skip = 0;
    if (opts.tail !== undefined && opts.tail >= 0) {
      const size = (await fh.stat()).size;
      if (opts.tail === 0) position = lastLineEnd(size, await readAt(fh, Math.max(0, size - TAIL_BLOCK), size));
      else ({ offset: position, skip } = await findTailStart(fh, size, opts.tail, want));
    }

    const pending: Record<OutputStream, Pending | undefined> = { stdout: undefined, stderr: undefined };
    let carry: Buffer = Buffer.alloc(0);
    let ino = (await fh.stat()).ino;

    for (;;) {
      if (signal?.aborted) return;
      const buf = Buffer.allocUnsafe(Math.max(CHUNK, carry.length * 2));
      carry.copy(buf, 0);
      const { bytesRead } = await fh.read(buf, carry.length, buf.length - carry.length, position);
      if (bytesRead === 0) {
        if (!follower) {
          const rest = flushPending(pending);
          if (rest.length > 0) yield rest;
          return;
        }
        // At the end: wait for more, then look for a rotated (replaced) or truncated file.
        if (!(await follower.waitForChange())) return;
        const now = await stat(path).catch(() => undefined);
        if (now && now.ino !== ino) {
          const next = await openLog(path);
          if (next) {
            await fh.close();
            fh = next;
            ino = now.ino;
            position = 0;
            carry = Buffer.alloc(0);
            follower.rewatch();
          }
        } else if (now && now.size < position) {
          position = 0;
          carry = Buffer.alloc(0);
        }
        continue;
      }
      position += bytesRead;
      const end = carry.length + bytesRead;
      const out: LogEntry[] = [];
      let start = 0;
      let stop = false;
      for (;;) {
        const nl = buf.indexOf(NL, start);
        if (nl < 0 || nl >= end) break;
        const f = splitRecord(buf, start, nl);
        if (f && want(f.stream)) {
          const p = pending[f.stream];
          if (f.partial) {
            const piece = buf.subarray(f.contentStart, nl);
            if (p) {
              p.parts.push(piece);
              p.size += piece.length;
              if (p.size > PENDING_MAX) {
                pending[f.stream] = undefined;
                if (skip === 0 && keep(p.timeStart, p.timeEnd, since)) out.push({ stream: f.stream, time: p.time, data: Buffer.concat(p.parts) });
              }
            } else {
              pending[f.stream] = { time: buf.toString('latin1', start, f.timeEnd), timeStart: buf.subarray(start), timeEnd: f.timeEnd - start, parts: [piece], size: piece.length };
            }
          } else {
            let time: string;
            let data: Buffer;
            let timeBuf: Buffer;
            let timeEnd: number;
            if (p) {
              pending[f.stream] = undefined;
              p.parts.push(buf.subarray(f.contentStart, nl + 1));
              data = Buffer.concat(p.parts);
              time = p.time;
              timeBuf = p.timeStart;
              timeEnd = p.timeEnd;
            } else {
              data = buf.subarray(f.contentStart, nl + 1);
              timeBuf = buf.subarray(start);
              timeEnd = f.timeEnd - start;
              time = '';
            }
            if (skip > 0) skip--;
            else if (until && isAfter(timeBuf, timeEnd, until)) {
              stop = true;
              break;
            } else if (keep(timeBuf, timeEnd, since)) {
              out.push({ stream: f.stream, time: time || buf.toString('latin1', start, f.timeEnd), data });
            }
          }
        }
        start = nl + 1;
      }
      if (out.length > 0) yield out;
      if (stop) return;
      carry = start < end ? buf.subarray(start, end) : Buffer.alloc(0);
    }
  } finally {
    follower?.close();
    await fh.close();
  }
}

/** A time bound, also as conmon's fixed-width UTC text so most records compare without parsing. */
interface Bound {
  sec: number;
  nsec: number;
  text: Buffer;
}

function bound(ns: bigint): Bound {
  const t = splitNs(ns);
  const iso = new Date(t.sec * 1000).toISOString().slice(0, 19);
  return { ...t, text: Buffer.from(`${iso}.${String(t.nsec).padStart(9, '0')}+00:00`) };
}

const UTC_SUFFIX = Buffer.from('+00:00');

/** Compares a record's time with a bound: <0 before, 0 equal, >0 after; NaN when unreadable. */
function cmpBound(timeBuf: Buffer, timeEnd: number, b: Bound): number {
  // Fixed-width UTC times of years 1000-9999 sort as text.
  if (timeEnd === CONMON_TIME_LEN && b.text.length === CONMON_TIME_LEN && timeBuf.compare(UTC_SUFFIX, 0, 6, timeEnd - 6, timeEnd) === 0) {
    return timeBuf.compare(b.text, 0, CONMON_TIME_LEN, 0, timeEnd);
  }
  const t = parseTime(timeBuf, 0, timeEnd);
  return Number.isNaN(t.sec) ? NaN : cmpTime(t, b);
}

function keep(timeBuf: Buffer, timeEnd: number, since: Bound | undefined): boolean {
  if (!since) return true;
  const c = cmpBound(timeBuf, timeEnd, since);
  return Number.isNaN(c) || c >= 0;
}

function isAfter(timeBuf: Buffer, timeEnd: number, until: Bound): boolean {
  return cmpBound(timeBuf, timeEnd, until) > 0;
}

/** Partial messages still open at the end are handed out as they are (no newline). */
function flushPending(pending: Record<OutputStream, Pending | undefined>): LogEntry[] {
  const out: LogEntry[] = [];
  for (const s of ['stdout', 'stderr'] as const) {
    const p = pending[s];
    if (p) out.push({ stream: s, time: p.time, data: Buffer.concat(p.parts) });
    pending[s] = undefined;
  }
  return out;
}

async function openLog(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

async function readAt(fh: FileHandle, from: number, to: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(to - from);
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, from + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/** The offset just past the last complete line, given the file's last bytes. */
function lastLineEnd(size: number, lastBytes: Buffer): number {
  const i = lastBytes.lastIndexOf(NL);
  return i < 0 ? size - lastBytes.length : size - lastBytes.length + i + 1;
}

/**
 * Where to start reading so that the last `tail` messages of the wanted streams come out whole, read
 * backwards from the end. The start may have to move back over the partial records of a message (and
 * so over complete messages of the other stream); `skip` says how many complete messages to drop first.
 */
async function findTailStart(
  fh: FileHandle,
  size: number,
  tail: number,
  want: (s: OutputStream) => boolean,
): Promise<{ offset: number; skip: number }> {
  let pos = size;
  let leftover: Buffer = Buffer.alloc(0);
  let first = true;
  let count = 0;
  let candidate = -1;
  let skip = 0;
  // After the tail-th message: streams whose record just before the candidate is not known to be complete.
  const unresolved = new Set<OutputStream>();
  let between: Array<{ stream: OutputStream; partial: boolean }> = [];

  while (pos > 0) {
    const from = Math.max(0, pos - TAIL_BLOCK);
    const block = await readAt(fh, from, pos);
    pos = from;
    const buf = leftover.length > 0 ? Buffer.concat([block, leftover]) : block;
    let end = buf.length;
    if (first) {
      // An unfinished last line is not a record yet.
      end = buf.lastIndexOf(NL) + 1;
      first = false;
    }
    for (;;) {
      if (end === 0) {
        leftover = Buffer.alloc(0);
        break;
      }
      const prevNl = end >= 2 ? buf.lastIndexOf(NL, end - 2) : -1;
      if (prevNl < 0 && from > 0) {
        leftover = buf.subarray(0, end);
        break;
      }
      const lineStart = prevNl + 1;
      const abs = from + lineStart;
      const f = splitRecord(buf, lineStart, end - 1);
      end = lineStart;
      if (!f || !want(f.stream)) continue;
      if (candidate < 0) {
        if (!f.partial && ++count === tail) {
          candidate = abs;
          unresolved.add('stdout').add('stderr');
          for (const s of ['stdout', 'stderr'] as const) if (!want(s)) unresolved.delete(s);
        }
        continue;
      }
      if (!unresolved.has(f.stream)) {
        between.push({ stream: f.stream, partial: f.partial });
        continue;
      }
      if (!f.partial) {
        unresolved.delete(f.stream);
        between.push({ stream: f.stream, partial: false });
      } else {
        // The stream's first included record continues this one: take it in, and everything since.
        for (const b of between) {
          if (!b.partial) skip++;
          unresolved.add(b.stream);
        }
        between = [];
        candidate = abs;
      }
      if (unresolved.size === 0) return { offset: candidate, skip };
    }
    if (end === 0 && from === 0) break;
  }
  return candidate < 0 ? { offset: 0, skip: 0 } : { offset: candidate, skip };
}

/** Wakes a following reader when the log changes; a slow timer covers events inotify might coalesce away. */
class Follower {
  private watcher: FSWatcher | undefined;
  private dirty = false;
  private wake: (() => void) | undefined;
  private readonly onAbort = (): void => this.fire();

  constructor(
    private readonly path: string,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.rewatch();
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  rewatch(): void {
    this.watcher?.close();
    try {
      this.watcher = watch(this.path, { persistent: true }, () => this.fire());
      this.watcher.on('error', () => this.fire());
    } catch {
      this.watcher = undefined;
    }
  }

  /** false when the reader should stop (aborted). */
  async waitForChange(): Promise<boolean> {
    if (this.signal?.aborted) return false;
    if (!this.dirty) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => this.fire(), 1000);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.dirty = false;
    return !this.signal?.aborted;
  }

  close(): void {
    this.watcher?.close();
    this.signal?.removeEventListener('abort', this.onAbort);
    this.fire();
  }

  private fire(): void {
    this.dirty = true;
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
