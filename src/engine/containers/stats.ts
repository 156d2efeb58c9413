import { readFile } from 'node:fs/promises';
import os from 'node:os';

/** One reading of a container's cgroup counters, in the shape of Docker's stats JSON. */
export interface StatsSample {
  read: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: { io_service_bytes_recursive: Array<{ major: number; minor: number; op: string; value: number }> | null };
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: {
    cpu_usage: { total_usage: number; usage_in_kernelmode: number; usage_in_usermode: number };
    system_cpu_usage: number;
    online_cpus: number;
    throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
  };
  memory_stats: { usage?: number; limit?: number; stats?: Record<string, number> };
}

const read = (p: string): Promise<string | undefined> => readFile(p, 'utf8').catch(() => undefined);
const num = (s: string | undefined): number | undefined => {
  if (s === undefined) return undefined;
  const t = s.trim();
  return t === 'max' || t === '' ? undefined : Number(t);
};

function keyValues(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** Host CPU time in nanoseconds, from /proc/stat, as Docker's system_cpu_usage. */
async function systemCpuNs(): Promise<number> {
  const stat = (await read('/proc/stat')) ?? '';
  const cpu = stat.split('\n').find((l) => l.startsWith('cpu '));
  if (!cpu) return 0;
  const ticks = cpu.trim().split(/\s+/).slice(1, 8).reduce((n, v) => n + Number(v), 0);
  return (ticks * 1e9) / 100;
}

/** A host with no memory limit on the container reports the machine's memory as the limit, as Docker does. */
const UNLIMITED = 2 ** 62;

/** What each cgroup version yields, in common units (nanoseconds, bytes). */
interface Reading {
  cpu: { total: number; kernel: number; user: number; periods: number; throttledPeriods: number; throttledNs: number };
  memory: { usage?: number; limit?: number; stats: Record<string, number> };
  pids: { current?: number; limit?: number };
  blkio: NonNullable<StatsSample['blkio_stats']['io_service_bytes_recursive']>;
}

async function readV2(id: string): Promise<Reading> {
  const base = `/sys/fs/cgroup/berth/${id}`;
  const [cpuStat, memCur, memMax, memStat, pidsCur, pidsMax, io] = await Promise.all(
    ['cpu.stat', 'memory.current', 'memory.max', 'memory.stat', 'pids.current', 'pids.max', 'io.stat'].map((f) => read(`${base}/${f}`)),
  );
  const cpu = keyValues(cpuStat);
  const blkio: Reading['blkio'] = [];
  for (const line of (io ?? '').split('\n').filter(Boolean)) {
    const [dev, ...kvs] = line.split(' ');
    const [major, minor] = dev.split(':').map(Number);
    const f = Object.fromEntries(kvs.map((kv) => kv.split('=')));
    blkio.push({ major, minor, op: 'read', value: Number(f.rbytes ?? 0) }, { major, minor, op: 'write', value: Number(f.wbytes ?? 0) });
  }
  return {
    cpu: {
      total: (cpu.usage_usec ?? 0) * 1000,
      kernel: (cpu.system_usec ?? 0) * 1000,
      user: (cpu.user_usec ?? 0) * 1000,
      periods: cpu.nr_periods ?? 0,
      throttledPeriods: cpu.nr_throttled ?? 0,
      throttledNs: (cpu.throttled_usec ?? 0) * 1000,
    },
    memory: { usage: num(memCur), limit: num(memMax), stats: keyValues(memStat) },
    pids: { current: num(pidsCur), limit: num(pidsMax) },
    blkio,
  };
}

async function readV1(id: string): Promise<Reading> {
  const v1 = (ctrl: string, f: string): Promise<string | undefined> => read(`/sys/fs/cgroup/${ctrl}/berth/${id}/${f}`);
  const [usage, acctStat, cpuStat, memUsage, memLimit, memStat, pidsCur, pidsMax, blk] = await Promise.all([
    v1('cpuacct', 'cpuacct.usage'),
    v1('cpuacct', 'cpuacct.stat'),
    v1('cpu', 'cpu.stat'),
    v1('memory', 'memory.usage_in_bytes'),
    v1('memory', 'memory.limit_in_bytes'),
    v1('memory', 'memory.stat'),
    v1('pids', 'pids.current'),
    v1('pids', 'pids.max'),
    v1('blkio', 'blkio.throttle.io_service_bytes'),
  ]);
  const acct = keyValues(acctStat);
  const throttle = keyValues(cpuStat);
  const blkio: Reading['blkio'] = [];
  for (const line of (blk ?? '').split('\n')) {
    const m = /^(\d+):(\d+) (\w+) (\d+)$/.exec(line.trim());
    if (m) blkio.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3].toLowerCase(), value: Number(m[4]) });
  }
  const limit = num(memLimit);
  return {
    cpu: {
      total: num(usage) ?? 0,
      kernel: ((acct.system ?? 0) * 1e9) / 100,
      user: ((acct.user ?? 0) * 1e9) / 100,
      periods: throttle.nr_periods ?? 0,
      throttledPeriods: throttle.nr_throttled ?? 0,
      throttledNs: throttle.throttled_time ?? 0,
    },
    memory: { usage: num(memUsage), limit: limit !== undefined && limit < UNLIMITED ? limit : undefined, stats: keyValues(memStat) },
    pids: { current: num(pidsCur), limit: num(pidsMax) },
    blkio,
  };
}

export async function sampleStats(id: string, cgroupVersion: 1 | 2): Promise<StatsSample> {
  const [r, system] = await Promise.all([cgroupVersion === 2 ? readV2(id) : readV1(id), systemCpuNs()]);
  return {
    read: new Date().toISOString(),
    pids_stats: r.pids,
    blkio_stats: { io_service_bytes_recursive: r.blkio },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: {
      cpu_usage: { total_usage: r.cpu.total, usage_in_kernelmode: r.cpu.kernel, usage_in_usermode: r.cpu.user },
      system_cpu_usage: system,
      online_cpus: os.cpus().length,
      throttling_data: { periods: r.cpu.periods, throttled_periods: r.cpu.throttledPeriods, throttled_time: r.cpu.throttledNs },
    },
    memory_stats: { usage: r.memory.usage, limit: r.memory.limit ?? os.totalmem(), stats: r.memory.stats },
  };
}
