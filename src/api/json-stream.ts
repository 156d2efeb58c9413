/**
 * Newline-delimited JSON progress messages (Docker's JSONMessage), used by pull, push, load, build.
 * The client may hang up at any time: then writing stops silently and `signal` aborts so that the long
 * work behind the stream can be cancelled.
 */
import type http from 'node:http';

export interface JsonProgressDetail {
  current?: number;
  total?: number;
}

export interface JsonErrorDetail {
  code?: number;
  message: string;
}

export interface JsonMessage {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: JsonProgressDetail;
  error?: string;
  errorDetail?: JsonErrorDetail;
  stream?: string;
  aux?: unknown;
}

export class JsonMessageStream {
  private readonly res: http.ServerResponse;
  private readonly abort = new AbortController();
  private ended = false;

  constructor(res: http.ServerResponse, status = 200) {
    this.res = res;
    // Headers go out now: clients show progress as it comes, and a later error travels in the body.
    if (!res.headersSent) {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.flushHeaders();
    }
    const onClose = (): void => {
      if (!res.writableFinished) this.abort.abort(new Error('client disconnected'));
    };
    res.once('close', onClose);
    if (res.destroyed) onClose();
  }

  /** Aborted when the client goes away before the stream ended. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** True once the client went away or the stream was ended: further writes are dropped. */
  get closed(): boolean {
    return this.ended || this.abort.signal.aborted || this.res.destroyed;
  }

  write(message: JsonMessage): void {
    if (this.closed) return;
    this.res.write(JSON.stringify(message) + '\r\n');
  }

  status(status: string, id?: string): void {
    this.write(id === undefined ? { status } : { status, id });
  }

  progress(id: string, status: string, current: number, total?: number, progress?: string): void {
    const message: JsonMessage = { status, id, progressDetail: total === undefined ? { current } : { current, total } };
    if (progress !== undefined) message.progress = progress;
    this.write(message);
  }

  aux(value: unknown): void {
    this.write({ aux: value });
  }

  /** Docker's in-band error: the CLI prints `message` and exits non-zero. Ends the stream. */
  error(message: string): void {
    this.write({ errorDetail: { message }, error: message });
    this.end();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.res.destroyed) this.res.end();
  }
}
