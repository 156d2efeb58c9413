import { readFileSync } from 'node:fs';
import { invalidArgument } from '../errors.js';

/**
 * Linux capabilities as Docker grants them: its default set of 14, `--cap-add`/`--cap-drop` with `ALL`,
 * and the daemon's own bounding set, which is the ceiling of what a container can get (here CAP_SYS_RESOURCE
 * is missing, so a fixed "all capabilities" list would make the runtime fail).
 */

/** Docker's default capability set (moby oci/caps defaults), in Docker's order. */
export const DEFAULT_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
]);

/** Capability names indexed by the kernel's capability number (include/uapi/linux/capability.h). */
export const KERNEL_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
]);

const ALL = 'ALL';
const KNOWN = new Set(KERNEL_CAPABILITIES);

/** 'net_admin', 'NET_ADMIN' and 'CAP_NET_ADMIN' all give 'CAP_NET_ADMIN'; 'all' gives 'ALL'. */
export function normalizeCapability(s: string): string {
  let name = s.trim().toUpperCase();
  if (name === ALL) return ALL;
  if (!name.startsWith('CAP_')) name = `CAP_${name}`;
  if (!KNOWN.has(name)) throw invalidArgument(`unknown capability: "${name}"`);
  return name;
}

/** Capability names from a hex mask as printed in /proc/<pid>/status (CapBnd, CapEff, ...). */
export function capabilitiesFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex.trim()}`);
  const names: string[] = [];
  for (let bit = 0; bit < 64; bit++) {
    if ((mask >> BigInt(bit)) & 1n) {
      // A kernel newer than this table may know capabilities we cannot name; the spec needs names, so skip them.
      const name = KERNEL_CAPABILITIES[bit];
      if (name) names.push(name);
    }
  }
  return names;
}

function capabilitySetOf(pid: number | 'self', field: 'CapBnd' | 'CapEff'): string[] {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const line = status.split('\n').find((l) => l.startsWith(`${field}:`));
  if (!line) throw new Error(`/proc/${pid}/status has no ${field} line`);
  return capabilitiesFromMask(line.slice(field.length + 1));
}

/** The bounding set of a process: what it, and every container it starts, can ever hold. */
export function boundingSetOf(pid: number | 'self'): string[] {
  return capabilitySetOf(pid, 'CapBnd');
}

/** The effective set of a process (e.g. to know whether the daemon may raise rlimits). */
export function effectiveSetOf(pid: number | 'self'): string[] {
  return capabilitySetOf(pid, 'CapEff');
}

function checkAvailable(names: string[], bounding: ReadonlySet<string>): void {
  for (const name of names) {
    if (name !== ALL && !bounding.has(name)) {
      throw invalidArgument(
        `capability not supported by your kernel or not available in the current environment: "${name}"`,
      );
    }
  }
}

function unique(names: string[]): string[] {
  return [...new Set(names)];
}

/**
 * The container's capabilities from a base set and `--cap-add`/`--cap-drop`, as Docker computes them:
 * add ALL = every capability of the bounding set except the dropped ones; drop ALL = only the added ones;
 * otherwise base minus drops plus adds. Names not in the bounding set are refused, as Docker does.
 */
export function tweakCapabilities(base: string[], add: string[], drop: string[], bounding: string[]): string[] {
  const available = new Set(bounding);
  const adds = add.map(normalizeCapability);
  const drops = drop.map(normalizeCapability);
  checkAvailable(adds, available);
  checkAvailable(drops, available);
  // Docker does not filter its defaults; we do, because the runtime fails on a capability the daemon lacks.
  const inBounding = (c: string): boolean => available.has(c);
  if (adds.includes(ALL)) return unique(bounding.filter((c) => !drops.includes(c)));
  if (drops.includes(ALL)) return unique(adds.filter((c) => c !== ALL));
  return unique([...base.filter((c) => !drops.includes(c) && inBounding(c)), ...adds]);
}
