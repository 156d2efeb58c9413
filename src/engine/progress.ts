/**
 * Docker's JSONMessage, the unit of every long-running response (pull, push, load, build). The engine emits these;
 * the API streams them as newline-delimited JSON and the CLIs draw them.
 */
export interface JsonMessage {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  stream?: string;
  error?: string;
  errorDetail?: { message: string; code?: number };
  aux?: unknown;
}

export type ProgressSink = (msg: JsonMessage) => void;

export const discardProgress: ProgressSink = () => {};

/** Decimal sizes as Docker's go-units HumanSize (4 significant digits). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  let v = bytes;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(4))}${units[i]}`;
}

/** The `progress` string of Docker's JSONProgress for clients that print it rather than redraw from progressDetail. */
export function progressBar(current: number, total: number): string {
  if (total <= 0) return humanSize(current).padStart(8);
  const width = 50;
  const filled = Math.min(width, Math.floor((current * width) / total));
  const bar = filled >= width ? '='.repeat(width) + '>' : '='.repeat(filled) + '>' + ' '.repeat(width - filled - 1);
  return `[${bar}] ${humanSize(current).padStart(8)}/${humanSize(total)}`;
}

/**
 * Emits byte-count progress for one item at most every `intervalMs`, so a fast download does not flood the stream
 * with thousands of messages.
 */
export class ProgressReporter {
  private last = 0;
  constructor(
    private readonly sink: ProgressSink,
    private readonly id: string,
    private readonly status: string,
    private readonly total: number,
    private readonly intervalMs = 100,
  ) {}
  update(current: number, force = false): void {
    const now = Date.now();
    if (!force && now - this.last < this.intervalMs) return;
    this.last = now;
    this.sink({
      status: this.status,
      id: this.id,
      progressDetail: { current, total: this.total },
      progress: progressBar(current, this.total),
    });
  }
}
