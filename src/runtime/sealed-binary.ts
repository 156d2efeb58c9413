import { accessSync, closeSync, constants as fsc, readFileSync, writeSync } from 'node:fs';
import { addSeals, F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_WRITE, getSeals, memfdCreate, MFD_ALLOW_SEALING, MFD_CLOEXEC, MFD_EXEC, type SyscallError } from './libc.js';

/**
 * crun and runc guard the host binary against a container rewriting it through /proc/self/exe
 * (CVE-2019-5736): unless they already run from a sealed copy, each run copies itself and executes
 * itself again, which costs a second process start (loader and ~10 libraries) on every create and exec.
 * A memfd holding the binary, sealed against any change (the runtimes check exactly these seals), is that
 * copy made once: berthd keeps it open and runs the runtime as /proc/<berthd pid>/fd/<n>. The protection is
 * the same (nothing can write to a sealed memfd); the second start is gone (~2 ms per runtime call here).
 */

const SEALS = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

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

/**
 * An executable memfd: MFD_EXEC where the kernel knows it (6.3+, where vm.memfd_noexec=2 refuses it: no copy then);
 * an older kernel rejects the flag with EINVAL and makes every memfd executable.
 */
function executableMemfd(name: string): number {
  try {
    return memfdCreate(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  } catch (e) {
    if ((e as SyscallError).code !== 'EINVAL') throw e;
    return memfdCreate(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  }
}

function sealedCopy(binary: string): string {
  const content = readFileSync(binary);
  const fd = executableMemfd(binary.slice(binary.lastIndexOf('/') + 1) || 'runtime');
  try {
    for (let off = 0; off < content.length; ) off += writeSync(fd, content, off, content.length - off);
    addSeals(fd, SEALS);
    if ((getSeals(fd) & SEALS) !== SEALS) throw new Error('seals missing');
    // A memfd the kernel made non-executable (MFD_NOEXEC_SEAL) shows it in its mode.
    accessSync(`/proc/${process.pid}/fd/${fd}`, fsc.X_OK);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  // Kept open for the life of the daemon: the path below names it.
  return `/proc/${process.pid}/fd/${fd}`;
}
