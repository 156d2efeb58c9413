import koffi from 'koffi';
import { getSystemErrorName } from 'node:util';

/**
 * The few syscalls Node does not expose (device nodes, fifos, extended attributes), called through glibc with koffi.
 * The xattr calls are the l* variants: they act on a symlink itself and never follow it.
 */

const libc = koffi.load('libc.so.6');

const mknodFn = libc.func('int mknod(const char *path, uint32_t mode, uint64_t dev)');
const lsetxattrFn = libc.func('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)');
const lgetxattrFn = libc.func('intptr_t lgetxattr(const char *path, const char *name, _Out_ void *value, size_t size)');
const llistxattrFn = libc.func('intptr_t llistxattr(const char *path, _Out_ void *list, size_t size)');

const ENODATA = 61;
const ERANGE = 34;

export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

/** An Error shaped like Node's own fs errors (code, errno, syscall, path), so callers can test `code`. */
export interface SyscallError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path: string;
}

function syscallError(syscall: string, path: string): SyscallError {
  const errno = koffi.errno();
  let code: string;
  try {
    code = getSystemErrorName(-errno);
  } catch {
    code = `E${errno}`;
  }
  const err = new Error(`${syscall} ${path}: ${code} (errno ${errno})`) as SyscallError;
  err.code = code;
  err.errno = errno;
  err.syscall = syscall;
  err.path = path;
  return err;
}

/** glibc's makedev: a 64-bit dev_t from major/minor. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/** `mode` carries the file type (S_IFCHR, S_IFBLK, S_IFIFO) and permission bits; the umask still applies. */
export function mknod(path: string, mode: number, major: number, minor: number): void {
  koffi.errno(0);
  if (mknodFn(path, mode >>> 0, makedev(major, minor)) !== 0) throw syscallError('mknod', path);
}

export function setxattr(path: string, name: string, value: Buffer | string): void {
  const buf = typeof value === 'string' ? Buffer.from(value) : value;
  if (lsetxattrFn(path, name, buf, buf.length, 0) !== 0) throw syscallError('lsetxattr', `${path} (${name})`);
}

/** The attribute's value, or undefined when the file has no such attribute. */
export function getxattr(path: string, name: string): Buffer | undefined {
  // Ask for the size first; retry if the value grew in between (ERANGE).
  for (let attempt = 0; attempt < 4; attempt++) {
    const size = Number(lgetxattrFn(path, name, null, 0));
    if (size < 0) {
      if (koffi.errno() === ENODATA) return undefined;
      throw syscallError('lgetxattr', `${path} (${name})`);
    }
    const buf = Buffer.alloc(Math.max(size, 1));
    const got = Number(lgetxattrFn(path, name, buf, buf.length));
    if (got >= 0) return buf.subarray(0, got);
    const errno = koffi.errno();
    if (errno === ENODATA) return undefined;
    if (errno !== ERANGE) throw syscallError('lgetxattr', `${path} (${name})`);
  }
  throw syscallError('lgetxattr', `${path} (${name})`);
}

export function listxattr(path: string): string[] {
  for (let attempt = 0; attempt < 4; attempt++) {
    const size = Number(llistxattrFn(path, null, 0));
    if (size < 0) throw syscallError('llistxattr', path);
    if (size === 0) return [];
    const buf = Buffer.alloc(size);
    const got = Number(llistxattrFn(path, buf, buf.length));
    if (got >= 0) {
      return buf
        .subarray(0, got)
        .toString('utf8')
        .split('\0')
        .filter((n) => n.length > 0);
    }
    if (koffi.errno() !== ERANGE) throw syscallError('llistxattr', path);
  }
  throw syscallError('llistxattr', path);
}

// --- sockets (conmon's attach socket is AF_UNIX SOCK_SEQPACKET, which Node's net module cannot open) ---

const socketFn = libc.func('int socket(int domain, int type, int protocol)');
const connectFn = libc.func('int connect(int fd, const void *addr, uint32_t len)');
const shutdownFn = libc.func('int shutdown(int fd, int how)');

export const AF_UNIX = 1;
export const SOCK_SEQPACKET = 5;
export const SOCK_CLOEXEC = 0o2000000;
export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;
/** sizeof(sockaddr_un.sun_path), including the terminating NUL. */
export const SUN_PATH_MAX = 108;

export function socket(domain: number, type: number, protocol = 0): number {
  koffi.errno(0);
  const fd = socketFn(domain, type, protocol) as number;
  if (fd < 0) throw syscallError('socket', `${domain}/${type}`);
  return fd;
}

/** connect(2) to a unix socket path; the path (in bytes) must fit sun_path with its NUL. */
export function connectUnix(fd: number, path: string): void {
  const bytes = Buffer.from(path);
  if (bytes.length >= SUN_PATH_MAX) {
    const err = new Error(`connect ${path}: ENAMETOOLONG`) as SyscallError;
    Object.assign(err, { code: 'ENAMETOOLONG', errno: 36, syscall: 'connect', path });
    throw err;
  }
  const addr = Buffer.alloc(2 + bytes.length + 1);
  addr.writeUInt16LE(AF_UNIX, 0);
  bytes.copy(addr, 2);
  koffi.errno(0);
  if ((connectFn(fd, addr, addr.length) as number) !== 0) throw syscallError('connect', path);
}

/** shutdown(2); ENOTCONN (peer already gone) is not an error for our callers. */
export function shutdown(fd: number, how: number): void {
  koffi.errno(0);
  if ((shutdownFn(fd, how) as number) !== 0) {
    const e = syscallError('shutdown', String(fd));
    if (e.code !== 'ENOTCONN') throw e;
  }
}

// --- mounts ---

const mountFn = libc.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)');
const umount2Fn = libc.func('int umount2(const char *target, int flags)');

export const MS_RDONLY = 1;
export const MS_REMOUNT = 32;
export const MS_BIND = 4096;
export const MNT_DETACH = 2;

export function mount(source: string, target: string, fstype: string | null, flags: number, data: string | null): void {
  koffi.errno(0);
  if ((mountFn(source, target, fstype, flags, data) as number) !== 0) throw syscallError('mount', target);
}

export function umount2(target: string, flags: number): void {
  koffi.errno(0);
  if ((umount2Fn(target, flags) as number) !== 0) throw syscallError('umount2', target);
}

/**
 * umount2 on a libuv worker thread: unmounting an overlay syncs it, which can take hundreds of milliseconds and must
 * not stall the daemon. errno does not survive the hop back, so this only says whether it worked.
 */
export function umount2Async(target: string, flags: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    (umount2Fn as unknown as { async: (t: string, f: number, cb: (err: unknown, res: number) => void) => void }).async(target, flags, (err, res) =>
      err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(res === 0),
    );
  });
}

// --- readiness I/O for the attach poller thread (never the libuv threadpool: attachments last long) ---

const pollFn = libc.func('int poll(void *fds, unsigned long nfds, int timeout)');
const recvFn = libc.func('intptr_t recv(int fd, void *buf, size_t len, int flags)');
const sendFn = libc.func('intptr_t send(int fd, const void *buf, size_t len, int flags)');
const readFn = libc.func('intptr_t read(int fd, void *buf, size_t len)');
const eventfdFn = libc.func('int eventfd(unsigned int initval, int flags)');

export const POLLIN = 0x1;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;
export const EAGAIN = 11;
export const EINTR = 4;

/** `fds` holds struct pollfd records (int fd; short events; short revents), 8 bytes each. -1 with errno on failure. */
export function poll(fds: Buffer, count: number, timeoutMs: number): number {
  koffi.errno(0);
  return pollFn(fds, count, timeoutMs) as number;
}

/** Bytes received, 0 at end of stream, or -errno. */
export function recv(fd: number, buf: Buffer, flags: number): number {
  koffi.errno(0);
  const n = Number(recvFn(fd, buf, buf.length, flags));
  return n >= 0 ? n : -koffi.errno();
}

/** Bytes sent, or -errno. */
export function send(fd: number, buf: Uint8Array, flags: number): number {
  koffi.errno(0);
  const n = Number(sendFn(fd, buf, buf.length, flags));
  return n >= 0 ? n : -koffi.errno();
}

/** Bytes read, or -errno. */
export function readFd(fd: number, buf: Buffer): number {
  koffi.errno(0);
  const n = Number(readFn(fd, buf, buf.length));
  return n >= 0 ? n : -koffi.errno();
}

export function eventfd(initval: number, flags: number): number {
  koffi.errno(0);
  const fd = eventfdFn(initval, flags) as number;
  if (fd < 0) throw syscallError('eventfd', String(initval));
  return fd;
}

// --- processes: posix_spawn (vfork semantics, no page-table copy of the daemon) and reaping ---

const posixSpawnFn = libc.func('int posix_spawn(_Out_ int *pid, const char *path, void *actions, void *attr, const char **argv, const char **envp)');
const actionsInitFn = libc.func('int posix_spawn_file_actions_init(void *actions)');
const actionsDestroyFn = libc.func('int posix_spawn_file_actions_destroy(void *actions)');
const actionsDup2Fn = libc.func('int posix_spawn_file_actions_adddup2(void *actions, int fd, int newfd)');
const actionsOpenFn = libc.func('int posix_spawn_file_actions_addopen(void *actions, int fd, const char *path, int oflag, uint32_t mode)');
const attrInitFn = libc.func('int posix_spawnattr_init(void *attr)');
const attrDestroyFn = libc.func('int posix_spawnattr_destroy(void *attr)');
const attrSetFlagsFn = libc.func('int posix_spawnattr_setflags(void *attr, short flags)');
const attrSetSigMaskFn = libc.func('int posix_spawnattr_setsigmask(void *attr, void *set)');
const attrSetSigDefaultFn = libc.func('int posix_spawnattr_setsigdefault(void *attr, void *set)');
const sigEmptySetFn = libc.func('int sigemptyset(void *set)');
const sigFillSetFn = libc.func('int sigfillset(void *set)');
const waitpidFn = libc.func('int waitpid(int pid, _Out_ int *status, int options)');
const pipe2Fn = libc.func('int pipe2(_Out_ int *fds, int flags)');

const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const WNOHANG = 1;
const O_CLOEXEC = 0o2000000;
/** Larger than glibc's posix_spawn_file_actions_t (80 bytes), posix_spawnattr_t (336) and sigset_t (128). */
const OPAQUE_SIZE = 1024;

/** What the child's descriptor `fd` is made of before the program starts. */
export type SpawnFdAction = { fd: number; dup: number } | { fd: number; open: string; flags: number };

/**
 * Starts `file` (absolute) with `argv` (argv[0] included) and `env`, every signal at its default and none blocked (Node
 * ignores SIGPIPE; a fresh program must not inherit that). Returns the pid; throws a SyscallError when it cannot start.
 */
export function posixSpawn(file: string, argv: readonly string[], env: readonly string[], fds: readonly SpawnFdAction[]): number {
  const actions = Buffer.alloc(OPAQUE_SIZE);
  const attr = Buffer.alloc(OPAQUE_SIZE);
  const sigs = Buffer.alloc(OPAQUE_SIZE);
  actionsInitFn(actions);
  attrInitFn(attr);
  try {
    attrSetFlagsFn(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    sigEmptySetFn(sigs);
    attrSetSigMaskFn(attr, sigs);
    sigFillSetFn(sigs);
    attrSetSigDefaultFn(attr, sigs);
    for (const a of fds) {
      if ('dup' in a) actionsDup2Fn(actions, a.dup, a.fd);
      else actionsOpenFn(actions, a.fd, a.open, a.flags, 0);
    }
    const pid = [0];
    const err = posixSpawnFn(pid, file, actions, attr, [...argv, null], [...env, null]) as number;
    if (err !== 0) {
      // posix_spawn returns the error instead of setting errno.
      koffi.errno(err);
      throw syscallError('posix_spawn', file);
    }
    return pid[0] as number;
  } finally {
    actionsDestroyFn(actions);
    attrDestroyFn(attr);
  }
}

/** waitpid(pid, WNOHANG): undefined while it runs; its raw wait status once reaped; null when it is not our child. */
export function reapNoHang(pid: number): number | null | undefined {
  const status = [0];
  const r = waitpidFn(pid, status, WNOHANG) as number;
  if (r === 0) return undefined;
  return r < 0 ? null : (status[0] ?? 0);
}

/** A pipe as [read end, write end], both close-on-exec and blocking. */
export function pipe(): [number, number] {
  const fds = [0, 0];
  koffi.errno(0);
  if ((pipe2Fn(fds, O_CLOEXEC) as number) !== 0) throw syscallError('pipe2', '');
  return [fds[0] as number, fds[1] as number];
}


// --- sealed memory files ---

const memfdCreateFn = libc.func('int memfd_create(const char *name, unsigned int flags)');
const fcntlFn = libc.func('int fcntl(int fd, int cmd, ...)');

export const MFD_CLOEXEC = 0x1;
export const MFD_ALLOW_SEALING = 0x2;
/** Kernels from 6.3 may refuse to execute a memfd created without it (vm.memfd_noexec); older ones reject it (EINVAL). */
export const MFD_EXEC = 0x10;
export const F_SEAL_SEAL = 0x1;
export const F_SEAL_SHRINK = 0x2;
export const F_SEAL_GROW = 0x4;
export const F_SEAL_WRITE = 0x8;
const F_ADD_SEALS = 1033;
const F_GET_SEALS = 1034;

export function memfdCreate(name: string, flags: number): number {
  koffi.errno(0);
  const fd = memfdCreateFn(name, flags) as number;
  if (fd < 0) throw syscallError('memfd_create', name);
  return fd;
}

export function addSeals(fd: number, seals: number): void {
  koffi.errno(0);
  if ((fcntlFn(fd, F_ADD_SEALS, 'int', seals) as number) !== 0) throw syscallError('fcntl(F_ADD_SEALS)', `fd ${fd}`);
}

export function getSeals(fd: number): number {
  koffi.errno(0);
  const seals = fcntlFn(fd, F_GET_SEALS) as number;
  if (seals < 0) throw syscallError('fcntl(F_GET_SEALS)', `fd ${fd}`);
  return seals;
}
