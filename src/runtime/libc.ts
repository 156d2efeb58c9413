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
