/**
 * Detach keys: the key sequence on a TTY attach's stdin that ends the attachment and leaves the container running
 * (Docker's default ctrl-p,ctrl-q). The keys themselves are never passed on to the process.
 */

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** moby's term.ASCII: ctrl-@ is 0, ctrl-a 1, ... ctrl-z 26, then ctrl-[ ctrl-\ ctrl-] ctrl-^ ctrl-_ (27-31). */
const CTRL_KEYS = ['@', ...'abcdefghijklmnopqrstuvwxyz', '[', '\\', ']', '^', '_'].map((c) => `ctrl-${c}`);

/** "ctrl-p,ctrl-q" -> [0x10, 0x11]; undefined when a key is not one Docker knows. */
export function parseDetachKeys(spec: string): Buffer | undefined {
  const codes: number[] = [];
  for (const key of spec.split(',')) {
    if (key.length === 1) {
      const c = key.charCodeAt(0);
      if (c > 0xff) return undefined;
      codes.push(c);
      continue;
    }
    const ctrl = CTRL_KEYS.indexOf(key);
    if (ctrl >= 0) codes.push(ctrl);
    else if (key === 'DEL') codes.push(127);
    else return undefined;
  }
  return codes.length > 0 ? Buffer.from(codes) : undefined;
}

/**
 * Watches input for the detach sequence. Bytes that might start the sequence are held back until the next byte
 * decides: the sequence completed (detach; nothing more is passed on) or not (the held bytes go on after all).
 */
export class DetachKeyFilter {
  private matched = 0;
  private done = false;

  constructor(private readonly keys: Buffer) {}

  get detached(): boolean {
    return this.done;
  }

  /** The bytes to pass on to the process. */
  push(chunk: Buffer): Buffer {
    if (this.done) return Buffer.alloc(0);
    const keys = this.keys;
    if (keys.length === 0) return chunk;
    let passFrom = 0;
    const parts: Buffer[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === keys[this.matched]) {
        if (this.matched === 0 && i > passFrom) parts.push(chunk.subarray(passFrom, i));
        this.matched++;
        passFrom = i + 1;
        if (this.matched === keys.length) {
          this.done = true;
          return Buffer.concat(parts);
        }
        continue;
      }
      if (this.matched > 0) {
        // Not the sequence after all: what was held goes on, and this byte may start a new attempt.
        parts.push(keys.subarray(0, this.matched));
        this.matched = 0;
        if (b === keys[0]) {
          this.matched = 1;
          passFrom = i + 1;
          if (keys.length === 1) {
            this.done = true;
            return Buffer.concat(parts);
          }
          continue;
        }
        passFrom = i;
      }
    }
    if (this.matched === 0 && passFrom < chunk.length) parts.push(chunk.subarray(passFrom));
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }
}
