/**
 * docker's jsonmessage.DisplayJSONMessagesStream: renders the daemon's JSON message stream for
 * pull/push/load/import. On a terminal each layer id keeps one line that is redrawn in place
 * (cursor up, clear line, redraw, cursor down); elsewhere only lines without a live progress
 * figure are printed, once each.
 */
import { BerthError } from '../../errors.js';
import { humanSize } from './units.js';

export interface ProgressDetail {
  current?: number;
  total?: number;
  start?: number;
  units?: string;
  hidecounts?: boolean;
}

export interface JsonMessage {
  id?: string;
  status?: string;
  progress?: string;
  progressDetail?: ProgressDetail | null;
  stream?: string;
  from?: string;
  time?: number;
  timeNano?: number;
  error?: string;
  errorDetail?: { code?: number; message?: string } | null;
  aux?: unknown;
}

export interface ProgressSink {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface DisplayOptions {
  /** Defaults to the sink's isTTY. */
  isTerminal?: boolean;
  /** Terminal width; docker draws the bar only when wider than 110 columns. */
  width?: number;
  /** Clock for the time-left estimate, ms since epoch. */
  now?: () => number;
}

/** Concatenated JSON values from a byte stream, as Go's json.Decoder reads them. */
export async function* decodeJsonStream(input: AsyncIterable<Buffer | string>): AsyncGenerator<unknown> {
  let buf = '';
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  let scanned = 0;
  for await (const chunk of input) {
    buf += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    for (let i = scanned; i < buf.length; i++) {
      const c = buf[i]!;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === '\\') escaped = true;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') inString = true;
      else if (c === '{' || c === '[') {
        if (depth === 0) start = i;
        depth++;
      } else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) {
          const text = buf.slice(start, i + 1);
          buf = buf.slice(i + 1);
          i = -1;
          start = -1;
          yield parseJson(text);
        }
      } else if (depth === 0 && !/\s/.test(c)) {
        throw new BerthError('internal', `invalid character '${c}' looking for beginning of value`);
      }
    }
    scanned = buf.length;
    if (depth === 0) {
      buf = '';
      scanned = 0;
    }
  }
  if (depth !== 0) throw new BerthError('internal', 'unexpected EOF');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new BerthError('internal', `invalid JSON message: ${text.slice(0, 200)}`);
  }
}

/** Go's time.Duration.String() for whole seconds. */
export function goDuration(seconds: number): string {
  if (seconds <= 0) return '0s';
  const h = Math.trunc(seconds / 3600);
  const m = Math.trunc((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** JSONProgress.String(): the bar, the byte counts and the time left. */
export function progressString(p: ProgressDetail, width: number, nowMs: number): string {
  const current = p.current ?? 0;
  const total = p.total ?? 0;
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) {
    if (!p.units) return humanSize(current).padStart(8);
    return `${current} ${p.units}`;
  }
  let percentage = Math.trunc(Math.trunc((current / total) * 100) / 2);
  if (percentage > 50) percentage = 50;
  let bar = '';
  if (width > 110) bar = `[${'='.repeat(percentage)}>${' '.repeat(Math.max(0, 50 - percentage))}] `;
  let numbers = '';
  if (p.hidecounts) numbers = '';
  else if (!p.units) {
    const cur = humanSize(current).padStart(8);
    numbers = current > total ? cur : `${cur}/${humanSize(total)}`;
  } else {
    numbers = current > total ? `${current} ${p.units}` : `${current}/${total} ${p.units}`;
  }
  let timeLeft = '';
  const start = p.start ?? 0;
  if (current > 0 && start > 0 && percentage < 50) {
    const fromStartNs = (nowMs - start * 1000) * 1e6;
    const perEntry = Math.trunc(fromStartNs / current);
    const leftSeconds = Math.trunc(((total - current) * perEntry) / 1e9);
    timeLeft = ' ' + goDuration(leftSeconds);
  }
  return bar + numbers + timeLeft;
}

const hasProgress = (m: JsonMessage): boolean => m.progressDetail !== undefined && m.progressDetail !== null;

/** The error a message carries, if any, as docker's JSONError (the message text only). */
function messageError(m: JsonMessage): BerthError | undefined {
  if (m.errorDetail && (m.errorDetail.message || m.errorDetail.code)) {
    return new BerthError('internal', m.errorDetail.message ?? m.error ?? 'unknown error');
  }
  if (m.error) return new BerthError('internal', m.error);
  return undefined;
}

function rfc3339NanoFixed(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

/**
 * Render a stream of JSON messages to `out`. Returns the `aux` payloads (push's digest, build ids)
 * in order. A message with an error stops rendering and throws it.
 */
export async function displayJsonMessages(
  input: AsyncIterable<Buffer | string>,
  out: ProgressSink,
  options: DisplayOptions = {},
): Promise<unknown[]> {
  const isTerminal = options.isTerminal ?? out.isTTY === true;
  const width = options.width ?? out.columns ?? 200;
  const now = options.now ?? Date.now;
  const aux: unknown[] = [];
  let ids = new Map<string, number>();

  for await (const value of decodeJsonStream(input)) {
    if (!value || typeof value !== 'object') continue;
    const m = value as JsonMessage;
    if (m.aux !== undefined && m.aux !== null) {
      aux.push(m.aux);
      continue;
    }
    let diff = 0;
    if (m.id && (hasProgress(m) || m.progress)) {
      let line = ids.get(m.id);
      if (line === undefined) {
        line = ids.size;
        ids.set(m.id, line);
        if (isTerminal) out.write('\n');
      }
      diff = ids.size - line;
      if (isTerminal && diff > 0) out.write(`\x1b[${diff}A`);
    } else {
      // a line that is not progress ends the block of lines that can be redrawn
      ids = new Map();
    }
    const err = messageError(m);
    if (!err) out.write(renderMessage(m, isTerminal, width, now()));
    if (m.id && isTerminal && diff > 0) out.write(`\x1b[${diff}B`);
    if (err) throw err;
  }
  return aux;
}

/** jsonmessage.Display for one message (without the error case). */
export function renderMessage(m: JsonMessage, isTerminal: boolean, width: number, nowMs: number): string {
  let s = '';
  let endl = '';
  const progress = hasProgress(m) ? progressString(m.progressDetail!, width, nowMs) : '';
  if (isTerminal && !m.stream && hasProgress(m)) {
    s += '\x1b[2K\r';
    endl = '\r';
  } else if (hasProgress(m) && progress !== '') {
    return ''; // no bars off a terminal
  }
  if (m.timeNano) s += rfc3339NanoFixed(m.timeNano / 1e6) + ' ';
  else if (m.time) s += rfc3339NanoFixed(m.time * 1000) + ' ';
  if (m.id) s += `${m.id}: `;
  if (m.from) s += `(from ${m.from}) `;
  const status = m.status ?? '';
  if (hasProgress(m) && isTerminal) s += `${status} ${progress}${endl}`;
  else if (m.progress) s += `${status} ${m.progress}${endl}`;
  else if (m.stream) s += `${m.stream}${endl}`;
  else s += `${status}${endl}\n`;
  return s;
}
