import { closeSync, openSync, readFileSync, write } from 'node:fs';
import { join, posix } from 'node:path';
import { unescapeMountinfo } from './mounts.js';

/**
 * Moving a process between cgroups (writing cgroup.procs) takes the kernel's global cgroup threadgroup lock for
 * writing. When no such write happened within the last RCU grace period, taking it first waits a whole grace
 * period: 8-16 ms here, on every `crun create` and `crun exec` (each moves the new process into the container's
 * cgroups), and about 0.15 ms when another write came just before. So while a start or an exec is on its way, berthd
 * itself keeps writing its own pid to the cgroup it is already in (a move to where it is, which changes nothing):
 * the grace period is waited once, in parallel with the rest of the work, and the runtime's own write finds the
 * lock warm. Measured on this VM: `crun exec` of `true` 23 ms cold, 13.5 ms warm.
 */

/** Below one grace period, so the lock never goes back to its cold state while warmth is wanted. */
const WARM_INTERVAL_MS = 3;

export class CgroupAttachWarmer {
  private until = 0;
  private holds = 0;
  private running = false;
  private disabled: boolean;
  private fd: number | undefined;
  private readonly pidText: Buffer;

  /** `procsFile` is the cgroup.procs of the cgroup this process is in; undefined turns warming off. */
  constructor(
    private readonly procsFile: string | undefined,
    pid: number = process.pid,
  ) {
    this.disabled = procsFile === undefined;
    this.pidText = Buffer.from(String(pid));
  }

  /** Keeps the lock warm for the next `ms` milliseconds (extending any earlier request). Never throws. */
  keepWarm(ms: number): void {
    if (this.disabled) return;
    this.until = Math.max(this.until, Date.now() + ms);
    this.run();
  }

  /** Keeps the lock warm until the returned function is called (at most once counts). */
  hold(): () => void {
    if (this.disabled) return () => undefined;
    this.holds += 1;
    this.run();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds -= 1;
    };
  }

  private wanted(): boolean {
    return !this.disabled && (this.holds > 0 || Date.now() < this.until);
  }

  private run(): void {
    if (this.running) return;
    this.running = true;
    void this.loop().finally(() => (this.running = false));
  }

  private async loop(): Promise<void> {
    try {
      this.fd ??= openSync(this.procsFile as string, 'w');
      while (this.wanted()) {
        const fd = this.fd;
        await new Promise<void>((resolve, reject) => write(fd, this.pidText, 0, this.pidText.length, 0, (e) => (e ? reject(e) : resolve())));
        await new Promise((r) => setTimeout(r, WARM_INTERVAL_MS));
      }
    } catch {
      // A host that refuses the write (a delegated or read-only cgroup tree) only loses the speed-up.
      this.disabled = true;
      if (this.fd !== undefined) closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

interface CgroupMount {
  mountPoint: string;
  root: string;
  fsType: string;
  superOptions: string[];
}

function parseMountinfo(text: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    if (right[0] !== 'cgroup' && right[0] !== 'cgroup2') continue;
    mounts.push({ root: unescapeMountinfo(left[3] ?? '/'), mountPoint: unescapeMountinfo(left[4] ?? ''), fsType: right[0], superOptions: (right[2] ?? '').split(',') });
  }
  return mounts;
}

/**
 * The cgroup.procs file of the cgroup this process is in, from the texts of /proc/self/cgroup and
 * /proc/self/mountinfo: the v2 hierarchy when mounted, else the first v1 hierarchy whose mount shows this
 * process's cgroup. Undefined when none does (e.g. the cgroup lies outside every mount's root).
 */
export function ownCgroupProcsFile(procCgroup: string, mountinfo: string): string | undefined {
  const mounts = parseMountinfo(mountinfo);
  const candidates: Array<{ mount: CgroupMount; path: string }> = [];
  for (const line of procCgroup.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, hierarchy, controllers, cgPath] = m as unknown as [string, string, string, string];
    const mount =
      hierarchy === '0' && controllers === ''
        ? mounts.find((x) => x.fsType === 'cgroup2')
        : mounts.find((x) => x.fsType === 'cgroup' && controllers.split(',').every((c) => c !== '' && x.superOptions.includes(c)));
    if (mount) candidates.push({ mount, path: cgPath });
  }
  // v2 first: on a unified host it is the only one, and on a hybrid one either serves (the lock is global).
  candidates.sort((a, b) => (a.mount.fsType === b.mount.fsType ? 0 : a.mount.fsType === 'cgroup2' ? -1 : 1));
  for (const { mount, path } of candidates) {
    const rel = posix.relative(mount.root, path);
    if (rel.startsWith('..')) continue;
    return join(mount.mountPoint, rel, 'cgroup.procs');
  }
  return undefined;
}

/** The warmer for this process, or one that does nothing when its cgroup cannot be found. */
export function cgroupAttachWarmerForSelf(): CgroupAttachWarmer {
  try {
    return new CgroupAttachWarmer(ownCgroupProcsFile(readFileSync('/proc/self/cgroup', 'utf8'), readFileSync('/proc/self/mountinfo', 'utf8')));
  } catch {
    return new CgroupAttachWarmer(undefined);
  }
}
