import { closeSync, constants as fsConstants, openSync, write, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { MessageChannel, type MessagePort, Worker, isMainThread, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { unavailable } from '../errors.js';
import {
  AF_UNIX,
  EAGAIN,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EINTR,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLOUT,
  SHUT_WR,
  SOCK_CLOEXEC,
  SOCK_SEQPACKET,
  SUN_PATH_MAX,
  connectUnix,
  eventfd,
  poll,
  readFd,
  recv,
  send,
  shutdown,
  socket,
} from './libc.js';
import { ATTACH_STREAM_STDERR, ATTACH_STREAM_STDOUT, type OutputStream } from './runtime-types.js';

/**
 * A client of conmon's attach socket: AF_UNIX SOCK_SEQPACKET, one packet per read, byte 0 of every
 * packet the stream id (2 stdout, 3 stderr). Input is raw bytes without a prefix.
 *
 * Node's net module cannot open SEQPACKET sockets, so the fd comes from libc via koffi. Its I/O runs
 * on one poller thread (a worker blocked in poll(2) over every attached fd) rather than as blocking
 * fs.read calls: those would each hold a libuv threadpool thread for the whole attachment, and four
 * attachments would stall every file operation of the daemon.
 */

/** conmon sends at most 8192 bytes of output per packet, plus the stream byte. */
const PACKET_MAX = 8192 + 1;
/** conmon reads client input in 32 KiB reads; a bigger SEQPACKET message would be truncated. */
const INPUT_CHUNK = 32 * 1024;
/** Packets read from one fd per poll round, so one busy container cannot starve the others. */
const READS_PER_ROUND = 16;
const POLLER_ROLE = 'berth-attach-poller';

type DataListener = (stream: OutputStream, data: Buffer) => void;

/** Main thread -> poller. */
type Command =
  | { op: 'add'; fd: number }
  | { op: 'write'; fd: number; data: Uint8Array }
  | { op: 'shutdown-wr'; fd: number }
  | { op: 'remove'; fd: number }
  | { op: 'pause' | 'resume'; fd: number }
  | { op: 'quit'; fd: -1 };

/** Poller -> main thread. 'end': the fd is no longer polled (peer closed, error, or removed) and may be closed. */
type Event = { fd: number; type: 'data'; data: Uint8Array } | { fd: number; type: 'end' };

export class AttachSocket {
  private fd: number;
  private closing = false;
  private ended = false;
  private stdinClosed = false;
  private readonly dataListeners: DataListener[] = [];
  private readonly closeListeners: Array<() => void> = [];

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
    // Packets start flowing once the poller has the fd; listeners registered right after connect() see them all.
    Poller.get().add(sock, fd);
    return sock;
  }

  onData(cb: DataListener): void {
    this.dataListeners.push(cb);
  }

  /** Called once, when conmon closes the connection (the container exited) or after close(). */
  onClose(cb: () => void): void {
    this.closeListeners.push(cb);
  }

  /** Raw bytes for the container's stdin; sent in order. */
  write(data: Buffer): void {
    if (this.ended || this.closing || this.stdinClosed) return;
    for (let off = 0; off < data.length; off += INPUT_CHUNK) {
      // A copy: the caller may reuse its buffer before the poller thread gets to it.
      Poller.get().send({ op: 'write', fd: this.fd, data: Uint8Array.prototype.slice.call(data, off, off + INPUT_CHUNK) });
    }
  }

  /** shutdown(SHUT_WR) once queued writes are out: conmon then closes the container's stdin (unless told to leave it open). */
  closeStdin(): void {
    if (this.ended || this.closing || this.stdinClosed) return;
    this.stdinClosed = true;
    Poller.get().send({ op: 'shutdown-wr', fd: this.fd });
  }

  /**
   * Stops reading output until resume(): backpressure for a slow consumer. Output then waits in the
   * socket buffer, and beyond that conmon decides (it keeps logging).
   */
  pause(): void {
    if (!this.ended && !this.closing) Poller.get().send({ op: 'pause', fd: this.fd });
  }

  resume(): void {
    if (!this.ended && !this.closing) Poller.get().send({ op: 'resume', fd: this.fd });
  }

  /** Detaches: the container keeps running. */
  close(): void {
    if (this.ended || this.closing) return;
    this.closing = true;
    Poller.get().send({ op: 'remove', fd: this.fd });
  }

  /** @internal from the poller */
  deliver(data: Uint8Array): void {
    if (this.closing || data.length < 2) return;
    const id = data[0];
    if (id !== ATTACH_STREAM_STDOUT && id !== ATTACH_STREAM_STDERR) return;
    const stream: OutputStream = id === ATTACH_STREAM_STDERR ? 'stderr' : 'stdout';
    const payload = Buffer.from(data.buffer, data.byteOffset + 1, data.length - 1);
    for (const cb of this.dataListeners) cb(stream, payload);
  }

  /** @internal from the poller: the fd is out of the poll set, so its number can be released. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    try {
      closeSync(this.fd);
    } catch {
      /* already closed */
    }
    this.fd = -1;
    for (const cb of this.closeListeners) cb();
  }
}

/** The main-thread side of the poller thread: one per process, started with the first attachment. */
class Poller {
  private static instance: Poller | undefined;
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly wakeFd: number;
  private readonly wakeBytes = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]);
  private readonly sockets = new Map<number, AttachSocket>();

  static get(): Poller {
    Poller.instance ??= new Poller();
    return Poller.instance;
  }

  private constructor() {
    this.wakeFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(new URL(import.meta.url), {
      workerData: { role: POLLER_ROLE, wakeFd: this.wakeFd, port: port2 },
      transferList: [port2],
    });
    this.port.on('message', (ev: Event) => {
      const sock = this.sockets.get(ev.fd);
      if (!sock) return;
      if (ev.type === 'data') sock.deliver(ev.data);
      else {
        this.sockets.delete(ev.fd);
        sock.end();
        this.updateRef();
      }
    });
    this.worker.on('error', () => this.fail());
    this.worker.on('exit', () => this.fail());
    // Node joins worker threads when it exits, and a thread asleep in poll(2) cannot be interrupted:
    // tell it to return. (Its poll timeout is the backstop.)
    process.once('exit', () => this.send({ op: 'quit', fd: -1 }));
    this.updateRef();
  }

  add(sock: AttachSocket, fd: number): void {
    this.sockets.set(fd, sock);
    this.updateRef();
    this.send({ op: 'add', fd });
  }

  send(cmd: Command): void {
    this.port.postMessage(cmd);
    // The poller sleeps in poll(2), not in its event loop: the eventfd wakes it to read its port.
    writeSync(this.wakeFd, this.wakeBytes);
  }

  /** The thread must not keep the daemon alive when nothing is attached. */
  private updateRef(): void {
    if (this.sockets.size > 0) {
      this.worker.ref();
      this.port.ref();
    } else {
      this.worker.unref();
      this.port.unref();
    }
  }

  private fail(): void {
    if (Poller.instance === this) Poller.instance = undefined;
    const all = [...this.sockets.values()];
    this.sockets.clear();
    for (const s of all) s.end();
  }
}

interface PolledFd {
  fd: number;
  out: Uint8Array[];
  shutdownWr: boolean;
  paused: boolean;
}

/** Returns to JS this often even when idle, so a terminating worker can stop. */
const POLL_TIMEOUT_MS = 1000;

/** The poller thread: poll(2) over the wake eventfd and every attached socket, until told to quit. */
function runPoller(wakeFd: number, port: MessagePort): void {
  let quit = false;
  const entries = new Map<number, PolledFd>();
  const packet = Buffer.allocUnsafe(PACKET_MAX + 1);
  const counter = Buffer.alloc(8);
  const post = (ev: Event, transfer?: ArrayBuffer[]): void => port.postMessage(ev, transfer);
  const finish = (fd: number): void => {
    entries.delete(fd);
    post({ fd, type: 'end' });
  };
  const flush = (e: PolledFd): void => {
    while (e.out.length > 0) {
      const chunk = e.out[0] as Uint8Array;
      const n = send(e.fd, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n === -EAGAIN) return;
      if (n < 0) {
        // conmon is gone or stopped reading; the read side reports the end.
        e.out = [];
        e.shutdownWr = false;
        return;
      }
      e.out.shift();
    }
    if (e.shutdownWr) {
      e.shutdownWr = false;
      try {
        shutdown(e.fd, SHUT_WR);
      } catch {
        /* the peer is gone */
      }
    }
  };
  const command = (cmd: Command): void => {
    const e = entries.get(cmd.fd);
    switch (cmd.op) {
      case 'add':
        entries.set(cmd.fd, { fd: cmd.fd, out: [], shutdownWr: false, paused: false });
        break;
      case 'pause':
      case 'resume':
        if (e) e.paused = cmd.op === 'pause';
        break;
      case 'write':
        if (e) {
          e.out.push(cmd.data);
          flush(e);
        }
        break;
      case 'shutdown-wr':
        if (e) {
          e.shutdownWr = true;
          flush(e);
        }
        break;
      case 'remove':
        if (e) finish(cmd.fd);
        break;
      case 'quit':
        quit = true;
        break;
    }
  };

  while (!quit) {
    // A paused fd is left out (poll reports a hang-up even unasked, which would spin), unless it has input to send.
    const list = [...entries.values()].filter((e) => !e.paused || e.out.length > 0);
    const fds = Buffer.alloc(8 * (list.length + 1));
    fds.writeInt32LE(wakeFd, 0);
    fds.writeInt16LE(POLLIN, 4);
    list.forEach((e, i) => {
      fds.writeInt32LE(e.fd, 8 * (i + 1));
      fds.writeInt16LE((e.paused ? 0 : POLLIN) | (e.out.length > 0 ? POLLOUT : 0), 8 * (i + 1) + 4);
    });
    if (poll(fds, list.length + 1, POLL_TIMEOUT_MS) <= 0) continue; // timeout or EINTR
    if (fds.readInt16LE(6) !== 0) {
      readFd(wakeFd, counter);
      for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) command(m.message as Command);
      if (quit) return;
    }
    list.forEach((e, i) => {
      if (entries.get(e.fd) !== e) return; // removed (or replaced) by a command this round
      const revents = fds.readInt16LE(8 * (i + 1) + 6);
      if (revents & (POLLOUT | POLLHUP | POLLERR) && e.out.length > 0) flush(e);
      if (e.paused || (revents & (POLLIN | POLLHUP | POLLERR)) === 0) return;
      for (let k = 0; k < READS_PER_ROUND; k++) {
        const n = recv(e.fd, packet, MSG_DONTWAIT);
        if (n === -EAGAIN || n === -EINTR) return;
        if (n <= 0) {
          finish(e.fd);
          return;
        }
        const copy = new Uint8Array(n);
        copy.set(packet.subarray(0, n));
        post({ fd: e.fd, type: 'data', data: copy }, [copy.buffer]);
      }
    });
  }
}

const poller = workerData as { role?: string; wakeFd?: number; port?: MessagePort } | null;
if (!isMainThread && poller?.role === POLLER_ROLE && poller.wakeFd !== undefined && poller.port) {
  runPoller(poller.wakeFd, poller.port);
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
