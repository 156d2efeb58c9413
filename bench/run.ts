/**
 * Container benchmark: run, exec, 50 parallel containers (time and memory) and logs throughput,
 * through the docker CLI against berthd and Debian's dockerd in the same run, with the same
 * busybox image loaded into both. Prints one table: work, dockerd, berthd, ratio dockerd/berthd
 * (above 1: berthd faster, or smaller for memory rows).
 *
 *   node dist/bench/run.js [--runs N] [--only berthd|dockerd] [--skip run-none,run-default,exec,parallel,logs,floor]
 *
 * `floor` times the same docker commands against a stand-in daemon that answers at once: the CLI's own cost, under
 * which no engine can go, and so the highest ratio any engine could show against dockerd here.
 */
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { buildBusyboxImage } from '../test/support/busybox-image.js';
import { processesUsing } from '../test/support/berthd.js';
import { dockerSaveTar } from '../test/support/oci-build.js';
import { type BenchEngine, berthdMissing, docker, startBerthd, startDockerd } from './lib/engines.js';
import { startInstantDaemon } from './lib/instant-daemon.js';
import { watchNewParentCgroup } from './lib/cgroup-leftovers.js';
import { listProcesses, memAvailableKiB, sumPssKiB, sumRssKiB } from './lib/procs.js';
import { fmtMiB, fmtRatio, median, min, renderTable, secondsSince } from './lib/stats.js';
import { countDockerStdout, timeDockerToNull } from './lib/timed-cli.js';

type EngineName = BenchEngine['name'];
const ENGINES: EngineName[] = ['dockerd', 'berthd'];
const SECTIONS = ['run-none', 'run-default', 'exec', 'parallel', 'logs', 'floor'] as const;
type Section = (typeof SECTIONS)[number];

const PARALLEL = 50;
const LOG_BYTES = 100_000_000;
const LOG_SCRIPT = `yes 0123456789012345678901234567890123456789012345678901234567890123456789 | head -c ${LOG_BYTES}`;
/** 100 MB per logs run is slow; more runs than this add time without changing the median. */
const MAX_LOG_RUNS = 5;

const say = (msg: string): void => {
  process.stderr.write(`[bench:run] ${msg}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Options {
  runs: number;
  only?: EngineName;
  skip: Set<Section>;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '10' },
      only: { type: 'string' },
      skip: { type: 'string', default: '' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`usage: node dist/bench/run.js [--runs N] [--only berthd|dockerd] [--skip ${SECTIONS.join(',')}]\n`);
    process.exit(0);
  }
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
  const only = values.only;
  if (only !== undefined && only !== 'berthd' && only !== 'dockerd') throw new Error(`--only must be berthd or dockerd, got ${only}`);
  const skip = new Set<Section>();
  for (const s of (values.skip ?? '').split(',').filter((x) => x !== '')) {
    if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`--skip: unknown section ${s} (known: ${SECTIONS.join(', ')})`);
    skip.add(s as Section);
  }
  return { runs, only, skip };
}

// ---------------------------------------------------------------------------------------------
// Results

type Unit = 'seconds' | 'kib';

interface Row {
  label: string;
  unit: Unit;
  values: Partial<Record<EngineName, number>>;
}

class Results {
  readonly rows: Row[] = [];
  readonly errors: Array<{ engine: EngineName; section: string; message: string }> = [];

  row(label: string, unit: Unit): Row {
    let r = this.rows.find((x) => x.label === label);
    if (!r) {
      r = { label, unit, values: {} };
      this.rows.push(r);
    }
    return r;
  }

  set(label: string, unit: Unit, engine: EngineName, value: number | undefined): void {
    const r = this.row(label, unit);
    if (value !== undefined && Number.isFinite(value)) r.values[engine] = value;
  }

  fail(engine: EngineName, section: string, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.errors.push({ engine, section, message });
    say(`${engine} ${section}: ${message}`);
  }
}

function fmtTime(s: number | undefined): string {
  if (s === undefined) return '-';
  return s < 10 ? `${s.toFixed(3)} s` : `${s.toFixed(1)} s`;
}

function render(results: Results): string {
  const rows = results.rows.map((r) => {
    const d = r.values.dockerd;
    const b = r.values.berthd;
    const fmt = r.unit === 'seconds' ? fmtTime : fmtMiB;
    return [r.label, fmt(d), fmt(b), d !== undefined && b !== undefined && b > 0 ? fmtRatio(d / b) : '-'];
  });
  return renderTable(['work', 'dockerd', 'berthd', 'ratio'], rows);
}

// ---------------------------------------------------------------------------------------------
// Helpers on one engine

async function must(engine: BenchEngine, args: string[]): Promise<string> {
  const r = await docker(engine, args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${r.code}): ${(r.stderr.trim() || r.stdout.trim()).slice(0, 300)}`);
  return r.stdout;
}

/** Times one CLI call whose output is discarded; a non-zero exit is an error. */
async function timed(engine: Pick<BenchEngine, 'env'>, args: string[]): Promise<number> {
  const r = await timeDockerToNull(engine, args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${r.code}): ${r.stderr.trim().slice(0, 300)}`);
  return r.seconds;
}

async function loadBusybox(engine: BenchEngine, archive: Buffer, imageId: string): Promise<void> {
  const r = await docker(engine, ['load'], { input: archive });
  if (r.code !== 0) throw new Error(`docker load failed (${r.code}): ${r.stderr.trim()}`);
  const id = (await must(engine, ['image', 'inspect', '--format', '{{.Id}}', 'busybox:latest'])).trim();
  if (id !== imageId) throw new Error(`loaded busybox has id ${id}, expected ${imageId}`);
}

/** Container ids (full) the engine knows, running or not. */
async function allContainers(engine: BenchEngine): Promise<string[]> {
  return (await must(engine, ['ps', '-aq', '--no-trunc'])).split('\n').filter((x) => x !== '');
}

async function removeAllContainers(engine: BenchEngine): Promise<void> {
  const ids = await allContainers(engine).catch(() => []);
  if (ids.length > 0) await docker(engine, ['rm', '-f', ...ids]).catch(() => undefined);
}

/** The daemon's own processes: berthd alone; dockerd plus the containerd it manages. */
async function daemonPids(engine: BenchEngine): Promise<number[]> {
  if (engine.name === 'berthd') return [engine.pid];
  const procs = await listProcesses();
  return [engine.pid, ...procs.filter((p) => p.ppid === engine.pid && p.comm === 'containerd').map((p) => p.pid)];
}

/**
 * The per-container monitor processes of this engine: conmon (berth) or containerd-shim (docker).
 * Both detach from the daemon, so they are found by their command line naming the engine's
 * directories, not by parentage.
 */
async function monitorPids(engine: BenchEngine): Promise<number[]> {
  const base = dirname(engine.dataRoot);
  const mine = new Set(await processesUsing(base));
  const want = engine.name === 'berthd' ? (c: string): boolean => c === 'conmon' : (c: string): boolean => c.startsWith('containerd-shim');
  return (await listProcesses()).filter((p) => mine.has(p.pid) && want(p.comm)).map((p) => p.pid);
}

// ---------------------------------------------------------------------------------------------
// Sections

/**
 * N timed repetitions of `work` per engine, alternating which engine goes first. An engine that
 * fails once is dropped from the section; the other goes on.
 */
async function repeated(
  results: Results,
  engines: BenchEngine[],
  section: Section,
  runs: number,
  label: string,
  work: (e: BenchEngine) => Promise<number>,
  opts: { warmup?: boolean } = {},
): Promise<void> {
  const times = new Map<EngineName, number[]>(engines.map((e) => [e.name, []]));
  const failed = new Set<EngineName>();
  // One untimed round first: the first container of a kind pays for cold caches on either side.
  if (opts.warmup) {
    for (const e of engines) {
      try {
        await work(e);
      } catch (err) {
        failed.add(e.name);
        results.fail(e.name, section, err);
      }
    }
  }
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? engines : [...engines].reverse();
    for (const e of order) {
      if (failed.has(e.name)) continue;
      try {
        times.get(e.name)?.push(await work(e));
      } catch (err) {
        failed.add(e.name);
        results.fail(e.name, section, err);
      }
    }
  }
  for (const e of engines) {
    const xs = times.get(e.name) ?? [];
    if (xs.length === 0) {
      results.row(`${label}, median`, 'seconds');
      results.row(`${label}, min`, 'seconds');
      continue;
    }
    results.set(`${label}, median`, 'seconds', e.name, median(xs));
    results.set(`${label}, min`, 'seconds', e.name, min(xs));
    say(`${section} ${e.name}: median ${median(xs).toFixed(3)} s, min ${min(xs).toFixed(3)} s over ${xs.length} runs`);
  }
}

async function execSection(results: Results, engines: BenchEngine[], runs: number): Promise<void> {
  const ready: BenchEngine[] = [];
  for (const e of engines) {
    try {
      await must(e, ['run', '-d', '--name', 'bench-exec', 'busybox', 'sleep', '1000']);
      ready.push(e);
    } catch (err) {
      results.fail(e.name, 'exec', err);
    }
  }
  try {
    await repeated(results, ready, 'exec', runs, 'exec true in a running container', (e) => timed(e, ['exec', 'bench-exec', 'true']), {
      warmup: true,
    });
  } finally {
    for (const e of engines) await docker(e, ['rm', '-f', 'bench-exec']).catch(() => undefined);
  }
}

/** 50 `docker run -d` at once, memory with all of them running, then one `docker rm -f` of all. */
async function parallelSection(results: Results, e: BenchEngine): Promise<void> {
  const label = `${PARALLEL} x run -d sleep 300, parallel (wall)`;
  const rmLabel = `rm -f of the ${PARALLEL} in one command (wall)`;
  await sleep(1000);
  results.set('daemon RSS, idle', 'kib', e.name, await sumRssKiB(await daemonPids(e)));
  const availBefore = await memAvailableKiB();
  const ids: string[] = [];
  try {
    const start = process.hrtime.bigint();
    // Named explicitly, so both engines do the same work (no generated-name retries on either side).
    const runs = await Promise.all(
      Array.from({ length: PARALLEL }, (_, i) => docker(e, ['run', '-d', '--name', `bench-par-${i}`, 'busybox', 'sleep', '300'])),
    );
    const seconds = secondsSince(start);
    for (const r of runs) if (r.code === 0) ids.push(r.stdout.trim());
    const failures = runs.filter((r) => r.code !== 0);
    if (failures.length > 0) {
      throw new Error(`${failures.length}/${PARALLEL} runs failed; first: ${(failures[0]?.stderr ?? '').trim().slice(0, 300)}`);
    }
    results.set(label, 'seconds', e.name, seconds);
    say(`parallel ${e.name}: ${PARALLEL} runs in ${seconds.toFixed(2)} s`);

    const running = (await must(e, ['ps', '-q'])).split('\n').filter((x) => x !== '').length;
    if (running !== PARALLEL) throw new Error(`${running} containers running after ${PARALLEL} successful runs`);
    await sleep(2000);
    results.set(`daemon RSS, ${PARALLEL} running`, 'kib', e.name, await sumRssKiB(await daemonPids(e)));
    const monitors = await monitorPids(e);
    const perContainer = (kib: number | undefined): number | undefined => (kib === undefined ? undefined : kib / PARALLEL);
    results.set('monitor RSS per container (containerd-shim / conmon)', 'kib', e.name, perContainer(await sumRssKiB(monitors)));
    results.set('monitor PSS per container (containerd-shim / conmon)', 'kib', e.name, perContainer(await sumPssKiB(monitors)));
    say(`parallel ${e.name}: ${monitors.length} monitor processes`);
    const availWith = await memAvailableKiB();
    results.set(`system memory per container (MemAvailable delta / ${PARALLEL})`, 'kib', e.name, (availBefore - availWith) / PARALLEL);

    const rmSeconds = await timed(e, ['rm', '-f', ...ids]);
    ids.length = 0;
    results.set(rmLabel, 'seconds', e.name, rmSeconds);
    const left = await allContainers(e);
    if (left.length > 0) throw new Error(`${left.length} containers left after rm -f`);
  } finally {
    if (ids.length > 0) await docker(e, ['rm', '-f', ...ids]).catch(() => undefined);
    await removeAllContainers(e);
  }
}

async function logsSection(results: Results, engines: BenchEngine[], runs: number): Promise<void> {
  const logRuns = Math.min(runs, MAX_LOG_RUNS);
  const ready: BenchEngine[] = [];
  for (const e of engines) {
    try {
      await must(e, ['run', '-d', '--name', 'bench-logs', 'busybox', 'sh', '-c', LOG_SCRIPT]);
      const code = (await must(e, ['wait', 'bench-logs'])).trim();
      if (code !== '0') throw new Error(`log writer exited ${code}`);
      // Checked once, untimed: a fast but truncated log would make the timing meaningless.
      const counted = await countDockerStdout(e, ['logs', 'bench-logs']);
      if (counted.code !== 0 || counted.bytes !== LOG_BYTES) {
        throw new Error(`docker logs gave ${counted.bytes} bytes (exit ${counted.code}), expected ${LOG_BYTES}: ${counted.stderr.trim().slice(0, 200)}`);
      }
      ready.push(e);
    } catch (err) {
      results.fail(e.name, 'logs', err);
    }
  }
  try {
    await repeated(results, ready, 'logs', logRuns, `logs of a 100 MB container > /dev/null`, (e) => timed(e, ['logs', 'bench-logs']));
  } finally {
    for (const e of engines) await docker(e, ['rm', '-f', 'bench-logs']).catch(() => undefined);
  }
  await repeated(results, engines, 'logs', logRuns, `run --rm attached, 100 MB > /dev/null`, (e) =>
    timed(e, ['run', '--rm', 'busybox', 'sh', '-c', LOG_SCRIPT]),
  );
}

// ---------------------------------------------------------------------------------------------

/** The docker CLI's own time for the benched commands, against a daemon that does nothing. */
async function floorSection(runs: number): Promise<Array<[string, number]>> {
  const stub = await startInstantDaemon();
  try {
    const out: Array<[string, number]> = [];
    const commands: Array<[string, string[]]> = [
      ['run --rm --network none true', ['run', '--rm', '--network', 'none', 'busybox', 'true']],
      ['exec true', ['exec', 'c0ffee', 'true']],
    ];
    for (const [label, args] of commands) {
      await timed(stub, args);
      const xs: number[] = [];
      for (let i = 0; i < runs; i++) xs.push(await timed(stub, args));
      out.push([label, median(xs)]);
    }
    return out;
  } finally {
    await stub.stop();
  }
}

async function main(): Promise<void> {
  const opts = parseOptions();
  const engines: BenchEngine[] = [];
  const removeDockerCgroup = await watchNewParentCgroup('docker');
  const cleanup = async (): Promise<void> => {
    for (const e of engines.splice(0)) {
      await removeAllContainers(e);
      await e.stop().catch((err: unknown) => say(`stopping ${e.name}: ${String(err)}`));
    }
    await removeDockerCgroup();
  };
  const onSignal = (): void => {
    say('interrupted, cleaning up');
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const results = new Results();
  const notes: string[] = [];
  let floor: Array<[string, number]> = [];
  try {
    const image = await buildBusyboxImage();
    const archive = await dockerSaveTar(image, ['busybox:latest']);
    const wanted = opts.only ? [opts.only] : ENGINES;
    for (const name of wanted) {
      try {
        if (name === 'berthd') {
          const missing = berthdMissing();
          if (missing) {
            notes.push(`berthd not run: ${missing}`);
            continue;
          }
        }
        const e = name === 'berthd' ? await startBerthd() : await startDockerd({ log: say });
        engines.push(e);
        await loadBusybox(e, archive, image.configDigest);
        say(`${name}: started (pid ${e.pid}), busybox loaded`);
      } catch (err) {
        results.fail(name, 'start', err);
        const e = engines.find((x) => x.name === name);
        if (e) {
          engines.splice(engines.indexOf(e), 1);
          await e.stop().catch(() => undefined);
        }
      }
    }

    if (!opts.skip.has('run-none')) {
      await repeated(
        results,
        engines,
        'run-none',
        opts.runs,
        'run --rm --network none true',
        (e) => timed(e, ['run', '--rm', '--network', 'none', 'busybox', 'true']),
        { warmup: true },
      );
    }
    if (!opts.skip.has('run-default')) {
      await repeated(
        results,
        engines,
        'run-default',
        opts.runs,
        'run --rm true, default network (berthd bridge; dockerd --bridge=none)',
        (e) => timed(e, ['run', '--rm', 'busybox', 'true']),
        { warmup: true },
      );
    }
    if (!opts.skip.has('exec')) await execSection(results, engines, opts.runs);
    if (!opts.skip.has('parallel')) {
      // One engine at a time: the other's 50 containers would blur the memory figures.
      for (const e of engines) {
        try {
          await parallelSection(results, e);
        } catch (err) {
          results.fail(e.name, 'parallel', err);
        }
      }
    }
    if (!opts.skip.has('logs')) await logsSection(results, engines, opts.runs);
    if (!opts.skip.has('floor')) floor = await floorSection(opts.runs);
  } finally {
    await cleanup();
  }

  process.stdout.write(`\ncontainers through the docker CLI, busybox, ${opts.runs} runs (logs: ${Math.min(opts.runs, MAX_LOG_RUNS)})\n\n`);
  process.stdout.write(`${render(results)}\n\n`);
  process.stdout.write('ratio = dockerd / berthd: above 1 means berthd is faster (or uses less memory)\n');
  process.stdout.write('dockerd RSS = dockerd + its containerd; berthd RSS = berthd alone\n');
  for (const [label, seconds] of floor) {
    const d = results.rows.find((r) => r.label.startsWith(label))?.values.dockerd;
    const best = d !== undefined ? `: at most ${fmtRatio(d / seconds)} faster than dockerd for any engine` : '';
    process.stdout.write(`floor: the docker CLI alone for ${label} (stand-in daemon answering at once): ${fmtTime(seconds)} median${best}\n`);
  }
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
  for (const err of results.errors) process.stdout.write(`error: ${err.engine} ${err.section}: ${err.message.split('\n')[0]?.slice(0, 300)}\n`);
  if (results.errors.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  say(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
