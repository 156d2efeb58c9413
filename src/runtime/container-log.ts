import { closeSync, constants as fsConstants, existsSync, type FSWatcher, openSync, watch, write } from 'node:fs';
import { type FileHandle, open, readdir, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
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
  /** The first record's time text: time[timeStart, timeEnd). */
  time: Buffer;
  timeStart: number;
  timeEnd: number;
  parts: Buffer[];
  size: number;
}

/**
 * Receives a log's messages with no per-message allocation. The bytes handed out stay valid (read buffers are never
 * reused), so a visitor may keep views of them.
 */
export interface LogVisitor {
  /**
   * One message: data[start, end), with its newline restored (none on a partial message left open at the end);
   * time[timeStart, timeEnd) is its first record's time as conmon wrote it.
   */
  message(stream: OutputStream, data: Buffer, start: number, end: number, time: Buffer, timeStart: number, timeEnd: number): void;
  /** Called after the messages of each read; a returned promise holds the reader back (backpressure). */
  flush(): void | Promise<void>;
}

/** The log's messages, one at a time. */
export async function* readLog(path: string, opts: ReadLogOptions): AsyncIterable<LogEntry> {
  for await (const batch of readLogBatches(path, opts)) yield* batch;
}

/** Like readLog, one array of messages per read of the file. */
export async function* readLogBatches(path: string, opts: ReadLogOptions): AsyncGenerator<LogEntry[]> {
  let batch: LogEntry[] = [];
  let ready: LogEntry[][] = [];
  let wakeConsumer: (() => void) | undefined;
  let resumeReader: (() => void) | undefined;
  let finished = false;
  let failure: { error: unknown } | undefined;
  const stopInner = new AbortController();
  const onAbort = (): void => stopInner.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const wake = (): void => {
    const w = wakeConsumer;
    wakeConsumer = undefined;
    w?.();
  };
  const visiting = visitLog(path, { ...opts, signal: stopInner.signal }, {
    message(stream, data, start, end, time, timeStart, timeEnd) {
      batch.push({ stream, time: time.toString('latin1', timeStart, timeEnd), data: data.subarray(start, end) });
    },
    flush() {
      if (batch.length === 0) return;
      ready.push(batch);
      batch = [];
      wake();
      return new Promise<void>((resolve) => (resumeReader = resolve));
    },
  }).then(
    () => {
      if (batch.length > 0) ready.push(batch);
      finished = true;
      wake();
    },
    (error: unknown) => {
      failure = { error };
      finished = true;
      wake();
    },
  );
  try {
    for (;;) {
      if (ready.length > 0) {
        const out = ready;
        ready = [];
        for (const b of out) yield b;
        const r = resumeReader;
        resumeReader = undefined;
        r?.();
        continue;
      }
      if (finished) break;
      await new Promise<void>((resolve) => (wakeConsumer = resolve));
    }
    if (failure) throw failure.error;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    if (!finished) {
      stopInner.abort();
      const r = resumeReader;
      resumeReader = undefined;
      r?.();
      await visiting;
    }
  }
}

/** ctr.log.<n>: the n-th newest rotated file. */
export function rotatedLogPath(logPath: string, n: number): string {
  return `${logPath}.${n}`;
}

/** The rotated files that exist, oldest first (ctr.log.3, ctr.log.2, ctr.log.1). */
export async function rotatedLogFiles(logPath: string): Promise<string[]> {
  const base = basename(logPath);
  const names = await readdir(dirname(logPath)).catch(() => [] as string[]);
  const numbered: number[] = [];
  for (const name of names) {
    if (!name.startsWith(base + '.')) continue;
    const n = name.slice(base.length + 1);
    if (/^[1-9]\d*$/.test(n)) numbered.push(Number(n));
  }
  return numbered.sort((a, b) => b - a).map((n) => rotatedLogPath(logPath, n));
}

/** Asks conmon to reopen its log file (control message type 2), which starts a fresh file at the log path. */
export async function reopenConmonLog(ctlPath: string): Promise<void> {
  const fd = openSync(ctlPath, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
  try {
    const msg = Buffer.from('2 0 0\n');
    await new Promise<void>((resolve, reject) => {
      write(fd, msg, 0, msg.length, null, (err) => (err ? reject(err) : resolve()));
    });
  } finally {
    closeSync(fd);
  }
}

interface OpenedLog {
  fh: FileHandle;
  size: number;
}

/**
 * Reads the log and its rotated files (oldest first) into a visitor. Every file is opened before reading starts, so
 * a rotation once reading has begun neither skips nor repeats lines; when following, the reader moves on to the new
 * file once conmon has reopened its log.
 */
export async function visitLog(path: string, opts: ReadLogOptions, v: LogVisitor): Promise<void> {
  const want = (s: OutputStream): boolean => (s === 'stdout' ? opts.stdout : opts.stderr);
  if (!opts.stdout && !opts.stderr) return;
  const since = opts.since !== undefined ? bound(opts.since) : undefined;
  const until = opts.until !== undefined ? bound(opts.until) : undefined;
  const signal = opts.signal;

  const files: OpenedLog[] = [];
  try {
    for (let attempt = 0; ; attempt++) {
      for (const p of [...(await rotatedLogFiles(path)), path]) {
        const fh = await openLog(p);
        if (fh) files.push({ fh, size: (await fh.stat()).size });
      }
      // Caught between a rotation and conmon's reopen (no current file yet): a follower looks again shortly.
      if (!opts.follow || files.length === 0 || existsSync(path) || attempt >= 50) break;
      await Promise.all(files.splice(0).map((f) => f.fh.close()));
      await new Promise((r) => setTimeout(r, 20));
    }
    const current = await stat(path).catch(() => undefined);
    // Without a current file (never written, or between a rotation and conmon's reopen) there is nothing to follow.
    const followed = opts.follow && current !== undefined && files.length > 0 ? files[files.length - 1] : undefined;
    if (files.length === 0) return;

    // Where to start: the file and offset that leave only the last `tail` messages, counted from the newest file back.
    let first = 0;
    let position = 0;
    let skip = 0;
    if (opts.tail !== undefined && opts.tail >= 0) {
      const last = files.length - 1;
      if (opts.tail === 0) {
        first = last;
        const size = files[last].size;
        position = lastLineEnd(size, await readAt(files[last].fh, Math.max(0, size - TAIL_BLOCK), size));
      } else {
        let remaining = opts.tail;
        for (let i = last; i >= 0; i--) {
          const r = await findTailStart(files[i].fh, files[i].size, remaining, want);
          first = i;
          if (r.found >= remaining) {
            position = r.offset;
            skip = r.skip;
            break;
          }
          remaining -= r.found;
        }
      }
    }

    const pending: Record<OutputStream, Pending | undefined> = { stdout: undefined, stderr: undefined };
    for (let i = first; i < files.length; i++) {
      if (i > first) position = 0;
      let fh = files[i].fh;
      const following = followed !== undefined && files[i] === followed;
      const follower = following ? new Follower(path, signal) : undefined;
      let ino = following ? (await fh.stat()).ino : 0;
      let draining = false;
      let carry: Buffer = Buffer.alloc(0);
      // Without -f the next chunk is read while this one's output drains to the client.
      let ahead: { buf: Buffer; read: Promise<{ bytesRead: number }> } | undefined;
      try {
        for (;;) {
          if (signal?.aborted) return;
          let buf: Buffer;
          let bytesRead: number;
          if (ahead) {
            buf = ahead.buf;
            ({ bytesRead } = await ahead.read);
            ahead = undefined;
          } else {
            buf = Buffer.allocUnsafe(Math.max(CHUNK, carry.length * 2));
            carry.copy(buf, 0);
            ({ bytesRead } = await fh.read(buf, carry.length, buf.length - carry.length, position));
          }
          if (bytesRead === 0) {
            if (!follower) break;
            if (draining) {
              // The replaced file is complete: go on with the new one.
              const next = await openLog(path);
              if (next) {
                await fh.close();
                fh = next;
                files[i] = { fh, size: 0 };
                ino = (await fh.stat()).ino;
                position = 0;
                carry = Buffer.alloc(0);
                follower.rewatch();
              }
              draining = false;
              continue;
            }
            // At the end: wait for more, then look for a rotated (replaced) or truncated file.
            if (!(await follower.waitForChange())) return;
            const now = await stat(path).catch(() => undefined);
            if (now && now.ino !== ino) draining = true;
            else if (now && now.size < position) {
              position = 0;
              carry = Buffer.alloc(0);
            }
            continue;
          }
          position += bytesRead;
          const end = carry.length + bytesRead;
          const r = scanRecords(buf, end, { want, pending, since, until, skip }, v);
          skip = r.skip;
          if (!r.stop) {
            carry = r.consumed < end ? buf.subarray(r.consumed, end) : Buffer.alloc(0);
            if (!follower) {
              const next = Buffer.allocUnsafe(Math.max(CHUNK, carry.length * 2));
              carry.copy(next, 0);
              ahead = { buf: next, read: fh.read(next, carry.length, next.length - carry.length, position) };
              ahead.read.catch(() => undefined);
            }
          }
          await v.flush();
          if (r.stop) return;
        }
      } finally {
        follower?.close();
        // A read still in flight must end before its file is closed.
        await ahead?.read.catch(() => undefined);
      }
    }
    flushPending(pending, since, v);
    await v.flush();
  } finally {
    await Promise.all(files.map((f) => f.fh.close().catch(() => undefined)));
  }
}

interface ScanState {
  want: (s: OutputStream) => boolean;
  pending: Record<OutputStream, Pending | undefined>;
  since: Bound | undefined;
  until: Bound | undefined;
  skip: number;
}

/** Hands the complete records in buf[0, end) to the visitor; says how far it got and whether `until` was passed. */
function scanRecords(buf: Buffer, end: number, st: ScanState, v: LogVisitor): { consumed: number; skip: number; stop: boolean } {
  const { want, pending, since, until } = st;
  let skip = st.skip;
  let start = 0;
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
            if (skip === 0 && keep(p.time, p.timeStart, p.timeEnd, since)) {
              const data = Buffer.concat(p.parts);
              v.message(f.stream, data, 0, data.length, p.time, p.timeStart, p.timeEnd);
            }
          }
        } else {
          pending[f.stream] = { time: buf, timeStart: start, timeEnd: f.timeEnd, parts: [piece], size: piece.length };
        }
      } else if (p) {
        pending[f.stream] = undefined;
        if (skip > 0) skip--;
        else if (until && isAfter(p.time, p.timeStart, p.timeEnd, until)) return { consumed: start, skip, stop: true };
        else if (keep(p.time, p.timeStart, p.timeEnd, since)) {
          p.parts.push(buf.subarray(f.contentStart, nl + 1));
          const data = Buffer.concat(p.parts);
          v.message(f.stream, data, 0, data.length, p.time, p.timeStart, p.timeEnd);
        }
      } else if (skip > 0) skip--;
      else if (until && isAfter(buf, start, f.timeEnd, until)) return { consumed: start, skip, stop: true };
      else if (keep(buf, start, f.timeEnd, since)) v.message(f.stream, buf, f.contentStart, nl + 1, buf, start, f.timeEnd);
    }
    start = nl + 1;
  }
  return { consumed: start, skip, stop: false };
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

/** Compares the time text buf[start, end) with a bound: <0 before, 0 equal, >0 after; NaN when unreadable. */
function cmpBound(buf: Buffer, start: number, end: number, b: Bound): number {
  // Fixed-width UTC times of years 1000-9999 sort as text.
  if (end - start === CONMON_TIME_LEN && b.text.length === CONMON_TIME_LEN && buf.compare(UTC_SUFFIX, 0, 6, end - 6, end) === 0) {
    return buf.compare(b.text, 0, CONMON_TIME_LEN, start, end);
  }
  const t = parseTime(buf, start, end);
  return Number.isNaN(t.sec) ? NaN : cmpTime(t, b);
}

function keep(buf: Buffer, start: number, end: number, since: Bound | undefined): boolean {
  if (!since) return true;
  const c = cmpBound(buf, start, end, since);
  return Number.isNaN(c) || c >= 0;
}

function isAfter(buf: Buffer, start: number, end: number, until: Bound): boolean {
  return cmpBound(buf, start, end, until) > 0;
}

/** Partial messages still open at the end are handed out as they are (no newline). */
function flushPending(pending: Record<OutputStream, Pending | undefined>, since: Bound | undefined, v: LogVisitor): void {
  for (const s of ['stdout', 'stderr'] as const) {
    const p = pending[s];
    pending[s] = undefined;
    if (p && keep(p.time, p.timeStart, p.timeEnd, since)) {
      const data = Buffer.concat(p.parts);
      v.message(s, data, 0, data.length, p.time, p.timeStart, p.timeEnd);
    }
  }
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
 * so over complete messages of the other stream); `skip` says how many complete messages to drop first. `found` is
 * how many messages the file holds when that is fewer than `tail` (the rest come from the older files).
 */
async function findTailStart(
  fh: FileHandle,
  size: number,
  tail: number,
  want: (s: OutputStream) => boolean,
): Promise<{ offset: number; skip: number; found: number }> {
  let pos = size;
  let leftover: Buffer = Buffer.alloc(0);
  let first = true;
  let count = 0;
  let candidate = -1;
  let skip = 0;
  // After the tail-th message: streams whose record just before the candidate is not known to be complete.
  const unresolved = new Set<OutputStream>();
  /** The wanted streams that have records at or after the current position. */
  const seen = new Set<OutputStream>();
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
        seen.add(f.stream);
        if (!f.partial && ++count === tail) {
          candidate = abs;
          // Only a stream with records from here on can have a message begun before the candidate; a stream
          // that has none must not send the search back to the start of the file.
          for (const s of seen) unresolved.add(s);
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
      if (unresolved.size === 0) return { offset: candidate, skip, found: tail };
    }
    if (end === 0 && from === 0) break;
  }
  return candidate < 0 ? { offset: 0, skip: 0, found: count } : { offset: candidate, skip, found: tail };
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
      // The directory, so that a rotation (the file renamed, a new one created) wakes the reader too.
      const name = basename(this.path);
      this.watcher = watch(dirname(this.path), { persistent: true }, (_e, file) => {
        if (file === null || file.startsWith(name)) this.fire();
      });
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
