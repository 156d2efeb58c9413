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

export async function sampleStats(id: string, cgroupVersion: 1 | 2): Promise<StatsSample> {
  const onlineCpus = os.cpus().length;
  const system = await systemCpuNs();
  if (cgroupVersion === 2) {
    const base = `/sys/fs/cgroup/berth/${id}`;
    const [cpuStat, memCur, memMax, memStat, pidsCur, pidsMax, io] = await Promise.all(
      ['cpu.stat', 'memory.current', 'memory.max', 'memory.stat', 'pids.current', 'pids.max', 'io.stat'].map((f) => read(`${base}/${f}`)),
    );
    const cpu = keyValues(cpuStat);
    const blk: StatsSample['blkio_stats']['io_service_bytes_recursive'] = [];
    for (const line of (io ?? '').split('\n').filter(Boolean)) {
      const [dev, ...kvs] = line.split(' ');
      const [major, minor] = dev.split(':').map(Number);
      const f = Object.fromEntries(kvs.map((kv) => kv.split('=')));
      blk.push({ major, minor, op: 'read', value: Number(f.rbytes ?? 0) }, { major, minor, op: 'write', value: Number(f.wbytes ?? 0) });
    }
    const limit = num(memMax);
    return {
      read: new Date().toISOString(),
      pids_stats: { current: num(pidsCur), limit: num(pidsMax) },
      blkio_stats: { io_service_bytes_recursive: blk },
      num_procs: 0,
      storage_stats: {},
      cpu_stats: {
        cpu_usage: { total_usage: (cpu.usage_usec ?? 0) * 1000, usage_in_kernelmode: (cpu.system_usec ?? 0) * 1000, usage_in_usermode: (cpu.user_usec ?? 0) * 1000 },
        system_cpu_usage: system,
        online_cpus: onlineCpus,
        throttling_data: { periods: cpu.nr_periods ?? 0, throttled_periods: cpu.nr_throttled ?? 0, throttled_time: (cpu.throttled_usec ?? 0) * 1000 },
      },
      memory_stats: { usage: num(memCur), limit: limit ?? os.totalmem(), stats: keyValues(memStat) },
    };
  }
  const v1 = (ctrl: string, f: string): Promise<string | undefined> => read(`/sys/fs/cgroup/${ctrl}/berth/${id}/${f}`);
  const [usage, acctStat, cpuStat, memUsage, memLimit, memStat, pidsCur, pidsMax, blkio] = await Promise.all([
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
  const blk: StatsSample['blkio_stats']['io_service_bytes_recursive'] = [];
  for (const line of (blkio ?? '').split('\n')) {
    const m = /^(\d+):(\d+) (\w+) (\d+)$/.exec(line.trim());
    if (m) blk.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3].toLowerCase(), value: Number(m[4]) });
  }
  const limit = num(memLimit);
  return {
    read: new Date().toISOString(),
    pids_stats: { current: num(pidsCur), limit: num(pidsMax) },
    blkio_stats: { io_service_bytes_recursive: blk },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: {
      cpu_usage: {
        total_usage: num(usage) ?? 0,
        usage_in_kernelmode: ((acct.system ?? 0) * 1e9) / 100,
        usage_in_usermode: ((acct.user ?? 0) * 1e9) / 100,
      },
      system_cpu_usage: system,
      online_cpus: onlineCpus,
      throttling_data: { periods: throttle.nr_periods ?? 0, throttled_periods: throttle.nr_throttled ?? 0, throttled_time: throttle.throttled_time ?? 0 },
    },
    memory_stats: { usage: num(memUsage), limit: limit !== undefined && limit < UNLIMITED ? limit : os.totalmem(), stats: keyValues(memStat) },
  };
}
