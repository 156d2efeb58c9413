/**
 * Pull benchmark: `docker pull` of a ~200 MB, 6-layer image from a local registry, timed against
 * berthd and Debian's dockerd in the same run. Prints median/min per engine, the ratio
 * dockerd/berthd (above 1 means berthd is faster) and berthd's idle RSS before and after.
 *
 *   node dist/bench/pull.js [--runs N] [--only berthd|dockerd] [--berthd PATH/bin/berthd] [--json]
 */
import { parseArgs } from 'node:util';
import { pushImageRaw } from '../test/support/oci-build.js';
import { buildBenchImage, imageSizes } from './lib/bench-image.js';
import { type BenchEngine, berthdMissing, docker, startBerthd, startDockerd } from './lib/engines.js';
import { startBenchRegistry, type BenchRegistry } from './lib/registry.js';
import { fmtMiB, fmtRatio, fmtSeconds, median, min, max, renderTable, secondsSince } from './lib/stats.js';

type EngineName = BenchEngine['name'];

interface EngineResult {
  name: EngineName;
  times: number[];
  /** Why the engine did not run at all (berthd not built yet): reported, not a failure. */
  skipped?: string;
  error?: string;
}

const say = (msg: string): void => {
  process.stderr.write(`[bench:pull] ${msg}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function parseOptions(): { runs: number; only?: EngineName; berthd?: string; json: boolean } {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      only: { type: 'string' },
      berthd: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: node dist/bench/pull.js [--runs N] [--only berthd|dockerd] [--berthd PATH/bin/berthd] [--json]\n');
    process.exit(0);
  }
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
  const only = values.only;
  if (only !== undefined && only !== 'berthd' && only !== 'dockerd') throw new Error(`--only must be berthd or dockerd, got ${only}`);
  return { runs, only, berthd: values.berthd, json: values.json ?? false };
}

/** One timed pull; the image is removed first so every run downloads and unpacks everything. */
async function timedPull(engine: BenchEngine, ref: string): Promise<number> {
  await docker(engine, ['rmi', '-f', ref]);
  const start = process.hrtime.bigint();
  const r = await docker(engine, ['pull', ref]);
  const seconds = secondsSince(start);
  if (r.code !== 0) throw new Error(`docker pull against ${engine.name} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return seconds;
}

async function verifyPulled(engine: BenchEngine, ref: string, diffIds: string[]): Promise<void> {
  const r = await docker(engine, ['image', 'inspect', '--format', '{{json .RootFS.Layers}}', ref]);
  if (r.code !== 0) throw new Error(`${engine.name}: image inspect after pull failed: ${r.stderr.trim()}`);
  const layers = JSON.parse(r.stdout) as string[];
  if (JSON.stringify(layers) !== JSON.stringify(diffIds)) {
    throw new Error(`${engine.name}: pulled image has layers ${r.stdout.trim()}, expected ${JSON.stringify(diffIds)}`);
  }
}

async function main(): Promise<void> {
  const opts = parseOptions();
  const engines: BenchEngine[] = [];
  let registry: BenchRegistry | undefined;
  const cleanup = async (): Promise<void> => {
    for (const e of engines.splice(0)) await e.stop().catch((err: unknown) => say(`stopping ${e.name}: ${String(err)}`));
    const reg = registry;
    registry = undefined;
    await reg?.stop().catch((err: unknown) => say(`stopping registry: ${String(err)}`));
  };
  const onSignal = (): void => {
    say('interrupted, cleaning up');
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const results: EngineResult[] = [];
  let rssBefore: number | undefined;
  let rssAfter: number | undefined;
  let dockerdRss: number | undefined;
  try {
    let t = process.hrtime.bigint();
    const image = await buildBenchImage();
    const sizes = imageSizes(image);
    say(
      `image: ${image.layers.length} layers, ${(sizes.uncompressed / 1e6).toFixed(0)} MB uncompressed, ` +
        `${(sizes.compressed / 1e6).toFixed(0)} MB gzip (built in ${secondsSince(t).toFixed(1)} s)`,
    );
    registry = await startBenchRegistry();
    t = process.hrtime.bigint();
    await pushImageRaw(registry.url, 'bench', 'latest', image);
    const ref = `${registry.host}/bench:latest`;
    say(`pushed ${ref} in ${secondsSince(t).toFixed(1)} s`);
    const diffIds = image.layers.map((l) => l.diffId);

    const wanted: EngineName[] = opts.only ? [opts.only] : ['dockerd', 'berthd'];
    for (const name of wanted) {
      if (name === 'berthd') {
        const missing = berthdMissing(opts.berthd);
        if (missing) {
          results.push({ name, times: [], skipped: `not run: ${missing}` });
          continue;
        }
        try {
          const e = await startBerthd({ binary: opts.berthd });
          engines.push(e);
          results.push({ name, times: [] });
          await sleep(1000);
          rssBefore = await e.rssKiB();
        } catch (err) {
          results.push({ name, times: [], error: `start failed: ${(err as Error).message}` });
        }
      } else {
        engines.push(await startDockerd({ log: say }));
        results.push({ name, times: [] });
      }
    }

    for (let run = 0; run < opts.runs; run++) {
      // Alternate which engine goes first, so neither always gets the warmer page cache.
      const order = run % 2 === 0 ? engines : [...engines].reverse();
      for (const e of order) {
        const res = results.find((r) => r.name === e.name);
        if (!res || res.error || res.skipped) continue;
        try {
          const s = await timedPull(e, ref);
          if (res.times.length === 0) await verifyPulled(e, ref, diffIds);
          res.times.push(s);
          say(`run ${run + 1}/${opts.runs} ${e.name}: ${s.toFixed(2)} s`);
        } catch (err) {
          res.error = (err as Error).message;
          say(`${e.name}: ${res.error}`);
        }
      }
    }

    await sleep(1000);
    const berthd = engines.find((e) => e.name === 'berthd');
    if (berthd) rssAfter = await berthd.rssKiB();
    const dockerd = engines.find((e) => e.name === 'dockerd');
    if (dockerd) dockerdRss = await dockerd.rssKiB();
  } finally {
    await cleanup();
  }

  const byName = (n: EngineName): EngineResult | undefined => results.find((r) => r.name === n);
  const b = byName('berthd');
  const d = byName('dockerd');
  const ratio = (f: (xs: number[]) => number): number => (b && d ? f(d.times) / f(b.times) : NaN);
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({
        runs: opts.runs,
        engines: results.map((r) => ({ ...r, median: median(r.times), min: min(r.times) })),
        ratioMedian: ratio(median),
        ratioMin: ratio(min),
        berthdRssKiB: { before: rssBefore, after: rssAfter },
        dockerdRssKiB: dockerdRss,
      })}\n`,
    );
    return;
  }
  const rows = results.map((r) => [
    r.name,
    String(r.times.length),
    fmtSeconds(median(r.times)),
    fmtSeconds(min(r.times)),
    fmtSeconds(max(r.times)),
    (r.error ?? r.skipped ?? '').split('\n')[0]?.slice(0, 100) ?? '',
  ]);
  process.stdout.write(`\ndocker pull, ~200 MB / 6 layers from a local registry, ${opts.runs} runs\n\n`);
  process.stdout.write(`${renderTable(['engine', 'runs', 'median', 'min', 'max', 'note'], rows)}\n\n`);
  process.stdout.write(`ratio dockerd/berthd: median ${fmtRatio(ratio(median))}, min ${fmtRatio(ratio(min))} (above 1: berthd faster)\n`);
  process.stdout.write(`berthd idle RSS: before ${fmtMiB(rssBefore)}, after ${fmtMiB(rssAfter)}; dockerd after: ${fmtMiB(dockerdRss)}\n`);
  if (results.some((r) => r.error)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  say(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
