/**
 * Types shared by the runtime layer (OCI runtime CLI, conmon, attach socket, container logs).
 * Kept free of imports so the engine can depend on them without loading koffi.
 */

export type OutputStream = 'stdout' | 'stderr';

/** The states an OCI runtime reports (`crun state`). */
export type OciStatus = 'created' | 'running' | 'paused' | 'stopped';

export interface OciState {
  status: OciStatus;
  /** 0 once the container has stopped. */
  pid: number;
}

export interface OciListEntry {
  id: string;
  status: string;
  pid: number;
}

/** conmon's attach-socket stream ids: byte 0 of every packet. */
export const ATTACH_STREAM_STDIN = 1;
export const ATTACH_STREAM_STDOUT = 2;
export const ATTACH_STREAM_STDERR = 3;

/** One k8s-file log record (one line of conmon's log). */
export interface LogRecord {
  /** RFC3339Nano as conmon wrote it, e.g. 2026-11-29T20:38:06.484138642+00:00. */
  time: string;
  /** Nanoseconds since the Unix epoch. */
  timeNs: bigint;
  stream: OutputStream;
  /** P: the line continues in the next record of the same stream; F: the line ends here. */
  partial: boolean;
  /** The bytes of the record, without the newline conmon strips. */
  content: Buffer;
}

/** A log message as a reader hands it out: partial records joined, '\n' restored on complete lines. */
export interface LogEntry {
  stream: OutputStream;
  /** The time of the message's first record (RFC3339Nano). */
  time: string;
  data: Buffer;
}

export interface ReadLogOptions {
  /** Nanoseconds since the epoch; messages older than this are skipped (inclusive bound). */
  since?: bigint;
  /** Nanoseconds since the epoch; messages newer than this are skipped (inclusive bound). */
  until?: bigint;
  /** Only the last `tail` messages (of the selected streams) that exist when reading starts. */
  tail?: number;
  /** Keep reading as the file grows, until `signal` aborts. */
  follow?: boolean;
  signal?: AbortSignal;
  stdout: boolean;
  stderr: boolean;
}
