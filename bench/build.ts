/**
 * Build benchmark: the 5-step Dockerfile (FROM busybox, RUN, COPY, ENV, CMD) through the docker CLI's classic
 * builder, cold (--no-cache) and cached, against berthd and Debian's dockerd in the same run. Prints medians and the
 * ratio dockerd/berthd (above 1: berthd faster).
 *
 *   node dist/bench/build.js [--runs N] [--only berthd|dockerd]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildBusyboxImage } from '../test/support/busybox-image.js';
import { dockerSaveTar } from '../test/support/oci-build.js';
import { type BenchEngine, berthdMissing, docker, startBerthd, startDockerd } from './lib/engines.js';
import { fmtRatio, fmtSeconds, median, renderTable } from './lib/stats.js';
import { timeDockerToNull } from './lib/timed-cli.js';

const DOCKERFILE = 'FROM busybox\nRUN echo hello > /hello\nCOPY file.txt /file.txt\nENV BENCH=1\nCMD ["cat", "/hello"]\n';
const say = (msg: string): void => {
  process.stderr.write(`[bench:build] ${msg}\n`);
};

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' }, only: { type: 'string' } } });
  const runs = Number(values.runs);
  const names = values.only ? [values.only as BenchEngine['name']] : (['dockerd', 'berthd'] as const);
  const dir = await mkdtemp(join(tmpdir(), 'bench-build-'));
  await writeFile(join(dir, 'Dockerfile'), DOCKERFILE);
  await writeFile(join(dir, 'file.txt'), 'some content\n'.repeat(100));
  const image = await buildBusyboxImage();
  const archive = await dockerSaveTar(image, ['busybox:latest']);
  const results = new Map<string, { cold: number[]; cached: number[] }>();
  const env = { DOCKER_BUILDKIT: '0' };
  try {
    for (const name of names) {
      if (name === 'berthd' && berthdMissing()) {
        say(`berthd not run: ${berthdMissing()}`);
        continue;
      }
      let e: BenchEngine | undefined;
      try {
        e = name === 'berthd' ? await startBerthd() : await startDockerd({ log: say });
        const loaded = await docker(e, ['load'], { input: archive });
        if (loaded.code !== 0) throw new Error(`load: ${loaded.stderr}`);
        const withBuildkitOff = { ...e, env: { ...e.env, ...env } };
        const r = { cold: [] as number[], cached: [] as number[] };
        // One warm-up build of each kind so first-use costs (poller thread, dockerd's builder) are not measured.
        await timeDockerToNull(withBuildkitOff, ['build', '--no-cache', '-t', 'bench-build', dir]);
        for (let i = 0; i < runs; i++) {
          const cold = await timeDockerToNull(withBuildkitOff, ['build', '--no-cache', '-t', 'bench-build', dir]);
          if (cold.code !== 0) throw new Error(`cold build failed: ${cold.stderr}`);
          r.cold.push(cold.seconds);
          const cached = await timeDockerToNull(withBuildkitOff, ['build', '-t', 'bench-build', dir]);
          if (cached.code !== 0) throw new Error(`cached build failed: ${cached.stderr}`);
          r.cached.push(cached.seconds);
        }
        results.set(name, r);
        say(`${name}: cold ${fmtSeconds(median(r.cold))}, cached ${fmtSeconds(median(r.cached))}`);
      } finally {
        if (e) {
          const ps = await docker(e, ['ps', '-aq']);
          for (const id of ps.stdout.split('\n').filter(Boolean)) await docker(e, ['rm', '-f', id]);
          await e.stop().catch((err: unknown) => say(`stopping ${name}: ${String(err)}`));
        }
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const d = results.get('dockerd');
  const b = results.get('berthd');
  const row = (label: string, pick: (r: { cold: number[]; cached: number[] }) => number[]): string[] => [
    label,
    d ? fmtSeconds(median(pick(d))) : '-',
    b ? fmtSeconds(median(pick(b))) : '-',
    d && b ? fmtRatio(median(pick(d)) / median(pick(b))) : '-',
  ];
  process.stdout.write(
    renderTable(['build (5 steps)', 'dockerd', 'berthd', 'dockerd/berthd'], [row('cold (--no-cache)', (r) => r.cold), row('cached', (r) => r.cached)]) + '\n',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
