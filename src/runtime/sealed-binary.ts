import { execFileSync } from 'node:child_process';
import { closeSync, readFileSync, writeSync } from 'node:fs';
import koffi from 'koffi';

/**
 * crun and runc guard the host binary against a container rewriting it through /proc/self/exe
 * (CVE-2019-5736): unless they already run from a sealed copy, each run copies itself and executes
 * itself again, which costs a second process start (loader and ~10 libraries) on every create and exec.
 * A memfd holding the binary, sealed against any change (the runtimes check exactly these seals), is that
 * copy made once: berthd keeps it open and runs the runtime as /proc/<berthd pid>/fd/<n>. The protection is
 * the same (nothing can write to a sealed memfd); the second start is gone (~2 ms per runtime call here).
 */

const MFD_CLOEXEC = 0x1;
const MFD_ALLOW_SEALING = 0x2;
/** Kernels from 6.3 may refuse to execute a memfd created without it (vm.memfd_noexec); older ones reject it. */
const MFD_EXEC = 0x10;
const F_ADD_SEALS = 1033;
const F_GET_SEALS = 1034;
const SEALS = 0x1 | 0x2 | 0x4 | 0x8; // SEAL, SHRINK, GROW, WRITE

let memfdCreate: ((name: string, flags: number) => number) | undefined;
let fcntl: ((fd: number, cmd: number, ...args: unknown[]) => number) | undefined;

function bind(): void {
  if (memfdCreate) return;
  const libc = koffi.load('libc.so.6');
  memfdCreate = libc.func('int memfd_create(const char *name, unsigned int flags)') as (name: string, flags: number) => number;
  fcntl = libc.func('int fcntl(int fd, int cmd, ...)') as (fd: number, cmd: number, ...args: unknown[]) => number;
}

const copies = new Map<string, string>();

/**
 * The path to run `binary` by: a sealed in-memory copy (`/proc/<pid>/fd/<n>`, valid while this process lives),
 * or `binary` itself when no copy can be made. One copy per binary per process.
 */
export function sealedExecPath(binary: string): string {
  const known = copies.get(binary);
  if (known) return known;
  let result = binary;
  try {
    result = sealedCopy(binary);
  } catch {
    // Running the binary itself is always correct, only slower.
  }
  copies.set(binary, result);
  return result;
}

function sealedCopy(binary: string): string {
  bind();
  const name = binary.slice(binary.lastIndexOf('/') + 1) || 'runtime';
  let fd = memfdCreate!(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd < 0) fd = memfdCreate!(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) throw new Error('memfd_create failed');
  try {
    const content = readFileSync(binary);
    for (let off = 0; off < content.length; ) off += writeSync(fd, content, off, content.length - off);
    if (fcntl!(fd, F_ADD_SEALS, 'int', SEALS) !== 0) throw new Error('sealing failed');
    if ((fcntl!(fd, F_GET_SEALS) & SEALS) !== SEALS) throw new Error('seals missing');
    // A host may forbid executing memfds (vm.memfd_noexec=2): the copy must prove it runs.
    execFileSync(`/proc/${process.pid}/fd/${fd}`, ['--version'], { stdio: 'ignore', timeout: 5000 });
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  // Kept open for the life of the daemon: the path below names it.
  return `/proc/${process.pid}/fd/${fd}`;
}
