/**
 * The terminal side of `run -it`, `attach` and `exec -it`: raw mode, the window size (and its
 * changes), and docker's detach keys (ctrl-p ctrl-q by default), which the CLI watches for in
 * stdin itself so the container keeps running when the user detaches.
 */
import { invalidArgument } from '../errors.js';
import type { InStream, OutStream } from './context.js';

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

export interface TerminalSize {
  height: number;
  width: number;
}

/** The size of the terminal behind `out`, or undefined when it is not a terminal. */
export function terminalSize(out: OutStream): TerminalSize | undefined {
  if (!out.isTTY) return undefined;
  const rows = (out as OutStream & { rows?: number }).rows;
  const width = out.columns;
  if (!rows || !width) return undefined;
  return { height: rows, width };
}

/** Call `fn` whenever the terminal is resized (SIGWINCH); returns the unsubscribe. */
export function onTerminalResize(out: OutStream, fn: () => void): () => void {
  out.on('resize', fn);
  return () => {
    out.off('resize', fn);
  };
}

/** Raw mode on a TTY stdin; returns the function that restores it. */
export function enterRawMode(stdin: InStream): () => void {
  if (!stdin.isTTY || typeof stdin.setRawMode !== 'function') return () => {};
  stdin.setRawMode(true);
  return () => {
    stdin.setRawMode?.(false);
  };
}

/** term.ToBytes: "ctrl-p,ctrl-q" → [16, 17]; single characters stand for themselves. */
export function parseDetachKeys(spec: string): number[] {
  const out: number[] = [];
  for (const raw of spec.split(',')) {
    const key = raw.trim();
    if (key.length > 1) {
      const m = /^ctrl-(.)$/i.exec(key);
      if (!m) throw invalidArgument(`Invalid escape keys (${spec}) provided`);
      const c = m[1]!.toLowerCase();
      const code = c.charCodeAt(0);
      if (c >= 'a' && c <= 'z') out.push(code - 96);
      else if (c === '@') out.push(0);
      else if (c === '[') out.push(27);
      else if (c === '\\') out.push(28);
      else if (c === ']') out.push(29);
      else if (c === '^') out.push(30);
      else if (c === '_') out.push(31);
      else throw invalidArgument(`Invalid escape keys (${spec}) provided`);
    } else if (key.length === 1) out.push(key.charCodeAt(0));
  }
  return out;
}

/**
 * term.EscapeProxy: passes input through, holding back bytes that may be the start of the detach
 * sequence; once the whole sequence was typed, reports the detach instead of forwarding it.
 */
export class DetachKeyFilter {
  private matched = 0;
  constructor(private readonly keys: readonly number[]) {}

  /** The bytes to forward, and whether the sequence is complete (the rest of the chunk is dropped). */
  filter(chunk: Buffer): { forward: Buffer; detached: boolean } {
    if (this.keys.length === 0) return { forward: chunk, detached: false };
    const out: number[] = [];
    for (const byte of chunk) {
      if (byte === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) {
          this.matched = 0;
          return { forward: Buffer.from(out), detached: true };
        }
        continue;
      }
      // a broken sequence: the held-back bytes were input after all
      for (let i = 0; i < this.matched; i++) out.push(this.keys[i]!);
      this.matched = 0;
      if (byte === this.keys[0]) this.matched = 1;
      else out.push(byte);
    }
    return { forward: Buffer.from(out), detached: false };
  }
}
