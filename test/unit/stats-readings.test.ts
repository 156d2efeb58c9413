import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statsDocuments, type StatsReading } from '../../src/engine/containers/stats-readings.js';
import type { StatsSample } from '../../src/engine/containers/stats.js';

function sample(totalUsage: number): StatsSample {
  return {
    read: new Date(1_700_000_000_000 + totalUsage).toISOString(),
    pids_stats: { current: 1 },
    blkio_stats: { io_service_bytes_recursive: null },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: { cpu_usage: { total_usage: totalUsage, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: 0, online_cpus: 2, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } },
    memory_stats: {},
  };
}

/** Looks that return the given readings in turn (the last one again once used up). */
function looks(readings: StatsReading[]): { look: () => Promise<StatsReading>; count: () => number } {
  let n = 0;
  return { look: async () => readings[Math.min(n++, readings.length - 1)]!, count: () => n };
}

const running = (u: number): StatsReading => ({ id: 'c1', name: '/c1', running: true, sample: sample(u) });
const stopped: StatsReading = { id: 'c1', name: '/c1', running: false };

test('one reading: two looks paired as precpu, unless one-shot', async () => {
  const paired = looks([running(10), running(25)]);
  const docs = [];
  for await (const d of await statsDocuments(paired.look, { stream: false, oneShot: false }, new AbortController().signal)) docs.push(d);
  assert.equal(docs.length, 1);
  assert.equal((docs[0]!.cpu_stats as StatsSample['cpu_stats']).cpu_usage.total_usage, 25);
  assert.equal((docs[0]!.precpu_stats as StatsSample['cpu_stats']).cpu_usage.total_usage, 10);
  assert.equal(paired.count(), 2);

  const once = looks([running(10)]);
  const single = [];
  for await (const d of await statsDocuments(once.look, { stream: false, oneShot: true }, new AbortController().signal)) single.push(d);
  assert.equal(single.length, 1);
  assert.equal(single[0]!.preread, '0001-01-01T00:00:00Z');
  assert.equal(once.count(), 1);
});

test('streaming: each document carries the one before; it ends with the container', async () => {
  const l = looks([running(1), stopped]);
  const docs = [];
  for await (const d of await statsDocuments(l.look, { stream: true, oneShot: false }, new AbortController().signal)) docs.push(d);
  assert.equal(docs.length, 2);
  assert.equal((docs[1]!.precpu_stats as StatsSample['cpu_stats']).cpu_usage.total_usage, 1);
  assert.deepEqual(docs[1]!.memory_stats, {}, 'a stopped container reads empty');
});

test('streaming stops when the client goes; an unknown container fails before any document', async () => {
  const ac = new AbortController();
  const docs = [];
  for await (const d of await statsDocuments(looks([running(1)]).look, { stream: true, oneShot: false }, ac.signal)) {
    docs.push(d);
    ac.abort();
  }
  assert.ok(docs.length <= 2);
  await assert.rejects(statsDocuments(() => Promise.reject(new Error('No such container: x')), { stream: true, oneShot: false }, ac.signal), /No such container/);
});
