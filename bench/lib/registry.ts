/**
 * A real docker-registry on 127.0.0.1 for benches. Uses the test fixture test/support/registry.ts
 * when it is built (it is the one starter the project keeps); until then a minimal starter of its
 * own with the same interface, so the bench runs on any branch.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchRegistry {
  /** '127.0.0.1:PORT' */
  host: string;
  url: string;
  dir: string;
  stop(): Promise<void>;
}

interface RegistryModule {
  startRegistry(opts?: Record<string, never>): Promise<BenchRegistry>;
}

const FIXTURE = new URL('../../test/support/registry.js', import.meta.url);

export async function startBenchRegistry(): Promise<BenchRegistry> {
  if (existsSync(fileURLToPath(FIXTURE))) {
    // A computed specifier: this file must compile before the fixture exists.
    const mod = (await import(FIXTURE.href)) as RegistryModule;
    return mod.startRegistry();
  }
  return startFallbackRegistry();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function startFallbackRegistry(): Promise<BenchRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${host}`,
      '',
    ].join('\n'),
  );
  const child = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (log += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://${host}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await fetch(`${url}/v2/`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return { host, url, dir, stop };
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
