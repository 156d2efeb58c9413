/**
 * Network benchmark through the docker CLI, berthd against Debian's dockerd in one run:
 *   - `run --rm busybox true` with --network none, on the default bridge and on a user network;
 *   - wrk against a busybox httpd published on 127.0.0.1 by each engine, and against the same httpd run on the host.
 * Prints one table with ratios dockerd/berthd (above 1: berthd faster) and, for wrk, berthd/host.
 *
 *   node dist/bench/network.js [--runs N] [--only berthd|dockerd] [--wrk-seconds S]
 *
 * dockerd runs with --iptables=false (its userland proxy publishes ports) so it leaves no firewall changes behind; its
 * default bridge is one this bench makes and removes.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { buildBusyboxImage } from '../test/support/busybox-image.js';
import { dockerSaveTar } from '../test/support/oci-build.js';
import { choosePool } from '../src/engine/networks/ipam.js';
import { networkInstance } from '../src/engine/engine.js';
import { dirname } from 'node:path';
import { type BenchEngine, berthdMissing, docker, startBerthd, startDockerd } from './lib/engines.js';
import { fmtRatio, median, renderTable } from './lib/stats.js';
import { timeDockerToNull } from './lib/timed-cli.js';

const run = promisify(execFile);
const say = (msg: string): void => {
  process.stderr.write(`[bench:network] ${msg}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type EngineName = BenchEngine['name'];
const DOCKERD_BRIDGE = 'bnetbench0';
const BUSYBOX = '/bin/busybox';

function options(): { runs: number; only?: EngineName; wrkSeconds: number } {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' }, only: { type: 'string' }, 'wrk-seconds': { type: 'string', default: '5' } } });
  const runs = Number(values.runs);
  const wrkSeconds = Number(values['wrk-seconds']);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
  if (!Number.isInteger(wrkSeconds) || wrkSeconds < 1) throw new Error('--wrk-seconds must be a positive integer');
  const only = values.only;
  if (only !== undefined && only !== 'berthd' && only !== 'dockerd') throw new Error('--only must be berthd or dockerd');
  return { runs, only, wrkSeconds };
}

async function must(engine: BenchEngine, args: string[]): Promise<string> {
  const r = await docker(engine, args);
  if (r.code !== 0) throw new Error(`${engine.name}: docker ${args.join(' ')} failed (${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 300)}`);
  return r.stdout;
}

async function timed(engine: BenchEngine, args: string[]): Promise<number> {
  const r = await timeDockerToNull(engine, args);
  if (r.code !== 0) throw new Error(`${engine.name}: docker ${args.join(' ')} failed (${r.code}): ${r.stderr.trim().slice(0, 300)}`);
  return r.seconds;
}

/** A bridge with an address for dockerd's default network (dockerd refuses -b together with --bip). */
async function makeDockerdBridge(): Promise<void> {
  const { stdout } = await run('ip', ['-j', 'route']);
  const routes = (JSON.parse(stdout) as Array<{ dst: string }>).map((r) => (r.dst === 'default' ? '0.0.0.0/0' : r.dst));
  const pools = Array.from({ length: 40 }, (_, i) => `10.${210 + Math.floor(i / 8)}.${(i % 8) * 32}.0/24`);
  const pool = choosePool(routes, pools);
  if (!pool) throw new Error('no free /24 for the dockerd bridge');
  const gw = pool.replace(/0\/24$/, '1/24');
  await run('ip', ['link', 'add', 'name', DOCKERD_BRIDGE, 'type', 'bridge']);
  await run('ip', ['addr', 'add', gw, 'dev', DOCKERD_BRIDGE]);
  await run('ip', ['link', 'set', DOCKERD_BRIDGE, 'up']);
}

/** berthd keeps its default bridge and tables after it stops (as dockerd keeps docker0); the bench removes them. */
async function removeBerthLeftovers(instance: string): Promise<void> {
  const { stdout } = await run('ip', ['-j', 'link']);
  for (const l of JSON.parse(stdout) as Array<{ ifname: string; ifalias?: string }>) {
    if (l.ifalias === `berth:${instance}`) await run('ip', ['link', 'del', l.ifname]).catch(() => undefined);
  }
  for (const family of ['ip', 'bridge']) await run('nft', ['delete', 'table', family, `berth_${instance}`]).catch(() => undefined);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** wrk's requests per second against the URL (after a short warm-up request loop). */
async function wrk(url: string, seconds: number): Promise<number> {
  const { stdout } = await run('/usr/bin/wrk', ['-t2', '-c32', `-d${seconds}s`, url], { maxBuffer: 1 << 20 });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  if (!m) throw new Error(`wrk printed no rate:\n${stdout}`);
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: .*/.exec(stdout);
  if (errors) say(`wrk ${url}: ${errors[0]}`);
  return Number(m[1]);
}

async function waitHttp(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer`);
}

const HTTPD_SCRIPT = 'mkdir -p /www && echo hello-from-busybox > /www/index.html && exec httpd -f -p 80 -h /www';

/** Debian's wrk, installed from apt when missing (as the engines' bench installs docker.io). */
async function ensureWrk(): Promise<void> {
  if (existsSync('/usr/bin/wrk')) return;
  say('installing wrk from apt');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'wrk'], { env, maxBuffer: 64 << 20 }).catch(async () => {
    await run('apt-get', ['update', '-qq'], { env, maxBuffer: 64 << 20 });
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'wrk'], { env, maxBuffer: 64 << 20 });
  });
}

async function main(): Promise<void> {
  const opts = options();
  await ensureWrk();
  const engines: BenchEngine[] = [];
  let bridgeMade = false;
  let hostHttpd: ReturnType<typeof spawn> | undefined;
  let wwwDir: string | undefined;
  const cleanup = async (): Promise<void> => {
    hostHttpd?.kill('SIGKILL');
    for (const e of engines) {
      const ids = (await docker(e, ['ps', '-aq', '--no-trunc']).catch(() => ({ stdout: '' }))).stdout.split('\n').filter(Boolean);
      if (ids.length) await docker(e, ['rm', '-f', ...ids]).catch(() => undefined);
      await docker(e, ['network', 'rm', 'benchnet']).catch(() => undefined);
      await e.stop().catch((err: Error) => say(`stopping ${e.name}: ${err.message}`));
      if (e.name === 'berthd') await removeBerthLeftovers(networkInstance(join(dirname(e.dataRoot), 'exec')));
    }
    engines.length = 0;
    if (bridgeMade) await run('ip', ['link', 'del', DOCKERD_BRIDGE]).catch(() => undefined);
    if (wwwDir) await rm(wwwDir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));

  const rows: Array<{ label: string; dockerd?: number; berthd?: number; host?: number; unit: 's' | 'req/s' }> = [];
  const notes: string[] = [];
  try {
    const image = await buildBusyboxImage();
    const archive = await dockerSaveTar(image, ['busybox:latest']);
    for (const name of opts.only ? [opts.only] : (['dockerd', 'berthd'] as EngineName[])) {
      if (name === 'berthd' && berthdMissing()) {
        notes.push(`berthd not run: ${berthdMissing()}`);
        continue;
      }
      if (name === 'dockerd') {
        await makeDockerdBridge();
        bridgeMade = true;
      }
      const e = name === 'berthd' ? await startBerthd() : await startDockerd({ log: say, args: [`--bridge=${DOCKERD_BRIDGE}`, '--userland-proxy=true'] });
      engines.push(e);
      const r = await docker(e, ['load'], { input: archive });
      if (r.code !== 0) throw new Error(`${name}: docker load failed: ${r.stderr}`);
      await must(e, ['network', 'create', 'benchnet']);
      say(`${name}: started, busybox loaded`);
    }

    const runCases: Array<[string, string[]]> = [
      ['run --rm true, --network none', ['--network', 'none']],
      ['run --rm true, default bridge', []],
      ['run --rm true, user network', ['--network', 'benchnet']],
    ];
    for (const [label, net] of runCases) {
      const row: (typeof rows)[number] = { label, unit: 's' };
      const times = new Map<EngineName, number[]>(engines.map((e) => [e.name, []]));
      for (const e of engines) await timed(e, ['run', '--rm', ...net, 'busybox', 'true']); // warm-up
      for (let i = 0; i < opts.runs; i++) {
        for (const e of i % 2 === 0 ? engines : [...engines].reverse()) times.get(e.name)!.push(await timed(e, ['run', '--rm', ...net, 'busybox', 'true']));
      }
      for (const e of engines) row[e.name] = median(times.get(e.name)!);
      rows.push(row);
      say(`${label}: ${engines.map((e) => `${e.name} ${row[e.name]?.toFixed(3)} s`).join(', ')}`);
    }

    // Published httpd: one container per engine, then the same httpd on the host.
    const wrkRow: (typeof rows)[number] = { label: 'wrk, httpd published on 127.0.0.1', unit: 'req/s' };
    for (const e of engines) {
      await must(e, ['run', '-d', '--name', 'benchweb', '-p', '127.0.0.1::80', 'busybox', 'sh', '-c', HTTPD_SCRIPT]);
      const port = (await must(e, ['port', 'benchweb', '80'])).trim().split('\n')[0]!.split(':').pop()!;
      const url = `http://127.0.0.1:${port}/index.html`;
      await waitHttp(url);
      wrkRow[e.name] = await wrk(url, opts.wrkSeconds);
      say(`wrk ${e.name}: ${wrkRow[e.name]} req/s`);
      await must(e, ['rm', '-f', 'benchweb']);
    }
    wwwDir = await mkdtemp(join(tmpdir(), 'bench-www-'));
    await writeFile(join(wwwDir, 'index.html'), 'hello-from-busybox\n');
    const hostPort = await freePort();
    hostHttpd = spawn(BUSYBOX, ['httpd', '-f', '-p', `127.0.0.1:${hostPort}`, '-h', wwwDir], { stdio: 'ignore' });
    const hostUrl = `http://127.0.0.1:${hostPort}/index.html`;
    await waitHttp(hostUrl);
    wrkRow.host = await wrk(hostUrl, opts.wrkSeconds);
    say(`wrk host: ${wrkRow.host} req/s`);
    rows.push(wrkRow);
  } finally {
    await cleanup();
  }

  const fmt = (v: number | undefined, unit: 's' | 'req/s'): string => (v === undefined ? '-' : unit === 's' ? `${v.toFixed(3)} s` : `${Math.round(v)}`);
  const table = rows.map((r) => {
    const ratio = r.dockerd !== undefined && r.berthd !== undefined ? (r.unit === 's' ? r.dockerd / r.berthd : r.berthd / r.dockerd) : NaN;
    return [r.label, fmt(r.dockerd, r.unit), fmt(r.berthd, r.unit), fmt(r.host, r.unit), fmtRatio(ratio), r.host && r.berthd ? fmtRatio(r.berthd / r.host) : '-'];
  });
  process.stdout.write(`\nnetworking through the docker CLI, busybox, ${opts.runs} runs, wrk ${opts.wrkSeconds} s -t2 -c32\n\n`);
  process.stdout.write(renderTable(['work', 'dockerd', 'berthd', 'host', 'berthd vs dockerd', 'berthd/host'], table) + '\n\n');
  process.stdout.write('berthd vs dockerd: above 1 means berthd is faster (times: dockerd/berthd; req/s: berthd/dockerd)\n');
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
}

main().catch((err: unknown) => {
  say(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
