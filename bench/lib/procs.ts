/**
 * Process-table and memory readings from /proc, for benches that charge memory to a daemon and
 * to its per-container monitor processes (conmon for berth, containerd-shim for docker).
 */
import { readdir, readFile } from 'node:fs/promises';
import { readRssKiB } from './engines.js';

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** The kernel's short name (/proc/<pid>/comm, at most 15 characters). */
  comm: string;
}

export async function listProcesses(): Promise<ProcInfo[]> {
  const out: ProcInfo[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      // comm may contain spaces and parentheses: it is everything between the first '(' and the last ')'.
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      out.push({ pid: Number(name), ppid, comm });
    } catch {
      // The process exited while we looked.
    }
  }
  return out;
}

/** Sum of VmRSS over `pids` (processes that vanished count as 0); undefined when none could be read. */
export async function sumRssKiB(pids: Iterable<number>): Promise<number | undefined> {
  let total: number | undefined;
  for (const pid of pids) {
    const rss = await readRssKiB(pid);
    if (rss !== undefined) total = (total ?? 0) + rss;
  }
  return total;
}

export async function memAvailableKiB(): Promise<number> {
  const info = await readFile('/proc/meminfo', 'utf8');
  const m = info.match(/^MemAvailable:\s+(\d+)\s+kB$/m);
  if (!m) throw new Error('no MemAvailable in /proc/meminfo');
  return Number(m[1]);
}

/**
 * Proportional set size (shared pages split among the processes mapping them), from
 * /proc/<pid>/smaps_rollup: for 50 copies of one monitor binary, RSS counts the shared text 50 times.
 */
export async function readPssKiB(pid: number): Promise<number | undefined> {
  try {
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    const m = rollup.match(/^Pss:\s+(\d+)\s+kB$/m);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export async function sumPssKiB(pids: Iterable<number>): Promise<number | undefined> {
  let total: number | undefined;
  for (const pid of pids) {
    const pss = await readPssKiB(pid);
    if (pss !== undefined) total = (total ?? 0) + pss;
  }
  return total;
}
