import type { StatsSample } from './stats.js';

/** What one look at a container gives: its counters while it runs. */
export interface StatsReading {
  id: string;
  name: string;
  running: boolean;
  sample?: StatsSample;
}

const EMPTY_CPU = { cpu_usage: { total_usage: 0 }, system_cpu_usage: 0, online_cpus: 0, throttling_data: {} };
const ZERO_TIME = '0001-01-01T00:00:00Z';
/** A single reading that must show CPU use takes its two looks this far apart. */
const SHORT_GAP_MS = 200;
const STREAM_INTERVAL_MS = 1000;

/** Docker's stats document: a reading with the one before it as precpu_stats, so clients can compute CPU %. */
export function statsView(cur: StatsReading, prev: StatsReading | undefined): Record<string, unknown> {
  return {
    ...(cur.sample ?? { read: new Date().toISOString(), pids_stats: {}, blkio_stats: {}, num_procs: 0, storage_stats: {}, cpu_stats: EMPTY_CPU, memory_stats: {} }),
    preread: prev?.sample?.read ?? ZERO_TIME,
    precpu_stats: prev?.sample?.cpu_stats ?? EMPTY_CPU,
    name: cur.name,
    id: cur.id,
    networks: {},
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * GET /containers/{id}/stats as documents: streaming, one a second until the container stops or `signal` aborts;
 * otherwise one, which (unless one-shot or stopped) pairs two looks 200 ms apart as Docker does. The first look
 * happens before anything is yielded, so an unknown container throws before a response starts.
 */
export async function statsDocuments(
  look: () => Promise<StatsReading>,
  o: { stream: boolean; oneShot: boolean },
  signal: AbortSignal,
): Promise<AsyncGenerator<Record<string, unknown>>> {
  const first = await look();
  return (async function* () {
    if (!o.stream) {
      if (o.oneShot || !first.running) yield statsView(first, undefined);
      else {
        await sleep(SHORT_GAP_MS);
        yield statsView(await look(), first);
      }
      return;
    }
    let prev: StatsReading | undefined;
    let cur = first;
    while (!signal.aborted) {
      yield statsView(cur, prev);
      if (!cur.running) return;
      await sleep(STREAM_INTERVAL_MS);
      prev = cur;
      cur = await look().catch(() => ({ ...cur, running: false, sample: undefined }));
    }
  })();
}
