import { closeSync, constants as fsConstants, openSync, read, write } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { unavailable } from '../errors.js';
import { AF_UNIX, SHUT_RDWR, SHUT_WR, SOCK_CLOEXEC, SOCK_SEQPACKET, SUN_PATH_MAX, connectUnix, shutdown, socket } from './libc.js';
import { ATTACH_STREAM_STDERR, ATTACH_STREAM_STDOUT, type OutputStream } from './runtime-types.js';

/**
 * A client of conmon's attach socket: AF_UNIX SOCK_SEQPACKET, one packet per read, byte 0 of every
 * packet the stream id (2 stdout, 3 stderr). Input is raw bytes without a prefix.
 *
 * Node's net module cannot open SEQPACKET sockets, so the fd comes from libc via koffi and I/O goes
 * through fs.read/fs.write on the blocking fd. Each pending read holds one libuv threadpool thread
 * while the container is attached: a daemon with many attachments needs UV_THREADPOOL_SIZE raised.
 */

/** conmon reads at most 8192 bytes of output per packet, plus the stream byte. */
const PACKET_MAX = 8192 + 1;
/** conmon reads client input in 32 KiB reads; a bigger SEQPACKET message would be truncated. */
const INPUT_CHUNK = 32 * 1024;

type DataListener = (stream: OutputStream, data: Buffer) => void;

export class AttachSocket {
  private fd: number;
  private closed = false;
  private readEnded = false;
  private readonly dataListeners: DataListener[] = [];
  private readonly closeListeners: Array<() => void> = [];
  /** Writes go out one at a time, in order. */
  private writeQueue: Buffer[] = [];
  private writing = false;
  private shutdownAfterWrites = false;

  private constructor(fd: number) {
    this.fd = fd;
  }

  /**
   * Connects to `path`. A path too long for sun_path is reached through its directory's
   * /proc/self/fd entry, which the kernel resolves like any other path.
   */
  static async connect(path: string): Promise<AttachSocket> {
    const fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC);
    try {
      if (Buffer.byteLength(path) < SUN_PATH_MAX) {
        connectUnix(fd, path);
      } else {
        const dir = await open(dirname(path), fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
        try {
          connectUnix(fd, `/proc/self/fd/${dir.fd}/${basename(path)}`);
        } finally {
          await dir.close();
        }
      }
    } catch (e) {
      closeSync(fd);
      throw unavailable(`cannot attach to ${path}: ${(e as Error).message}`, e);
    }
    const sock = new AttachSocket(fd);
    // Start reading on the next tick so listeners registered right after connect() see every packet.
    setImmediate(() => sock.readLoop());
    return sock;
  }

  onData(cb: DataListener): void {
    this.dataListeners.push(cb);
  }

  /** Called once, when conmon closes the connection (the container exited) or after close(). */
  onClose(cb: () => void): void {
    this.closeListeners.push(cb);
  }

  /** Raw bytes for the container's stdin. */
  write(data: Buffer): void {
    if (this.closed || this.shutdownAfterWrites) return;
    for (let off = 0; off < data.length; off += INPUT_CHUNK) this.writeQueue.push(data.subarray(off, off + INPUT_CHUNK));
    this.pump();
  }

  /** shutdown(SHUT_WR) once queued writes are out: conmon then closes the container's stdin. */
  closeStdin(): void {
    if (this.closed) return;
    this.shutdownAfterWrites = true;
    this.pump();
  }

  /** Detaches: the container keeps running. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.writeQueue = [];
    // shutdown wakes the pending threadpool read (it returns 0); the fd is closed when that read ends,
    // so the number cannot be reused under a read still in flight.
    try {
      shutdown(this.fd, SHUT_RDWR);
    } catch {
      /* already disconnected */
    }
    if (this.readEnded) this.release();
  }

  private pump(): void {
    if (this.writing || this.closed) return;
    const next = this.writeQueue.shift();
    if (next === undefined) {
      if (this.shutdownAfterWrites) {
        try {
          shutdown(this.fd, SHUT_WR);
        } catch {
          /* the peer is gone; the read loop reports the close */
        }
      }
      return;
    }
    this.writing = true;
    write(this.fd, next, 0, next.length, null, (err) => {
      this.writing = false;
      // A failed write means conmon closed the connection; the read loop sees that too.
      if (err) this.writeQueue = [];
      this.pump();
    });
  }

  private readLoop(): void {
    if (this.closed) {
      this.readEnded = true;
      this.release();
      return;
    }
    const buf = Buffer.allocUnsafe(PACKET_MAX + 1);
    read(this.fd, buf, 0, buf.length, null, (err, n) => {
      if (err || n === 0) {
        this.readEnded = true;
        if (!this.closed) {
          this.closed = true;
          this.writeQueue = [];
        }
        this.release();
        return;
      }
      const id = buf[0];
      if (!this.closed && n > 1 && (id === ATTACH_STREAM_STDOUT || id === ATTACH_STREAM_STDERR)) {
        const stream: OutputStream = id === ATTACH_STREAM_STDERR ? 'stderr' : 'stdout';
        const data = buf.subarray(1, n);
        for (const cb of this.dataListeners) cb(stream, data);
      }
      this.readLoop();
    });
  }

  private released = false;

  private release(): void {
    if (this.released) return;
    this.released = true;
    try {
      closeSync(this.fd);
    } catch {
      /* already closed */
    }
    this.fd = -1;
    for (const cb of this.closeListeners) cb();
  }
}

/**
 * Resizes the container's pty through conmon's ctl fifo ("1 rows cols\n"). O_NONBLOCK makes a fifo
 * nobody reads (conmon gone) fail with ENXIO instead of hanging.
 */
export async function resizeTerminal(ctlPath: string, rows: number, cols: number): Promise<void> {
  const fd = openSync(ctlPath, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
  try {
    const msg = Buffer.from(`1 ${Math.max(0, Math.trunc(rows))} ${Math.max(0, Math.trunc(cols))}\n`);
    await new Promise<void>((resolve, reject) => {
      write(fd, msg, 0, msg.length, null, (err) => (err ? reject(err) : resolve()));
    });
  } finally {
    closeSync(fd);
  }
}
