/**
 * Starts a real registry (Debian's docker-registry, distribution 2.8) on 127.0.0.1 for tests:
 * filesystem storage in a temp dir, optional htpasswd or token auth, stopped by PID.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { bcryptHash } from './bcrypt.js';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface TestRegistry {
  /** '127.0.0.1:PORT' */
  host: string;
  /** 'http://127.0.0.1:PORT' */
  url: string;
  dir: string;
  stop(): Promise<void>;
}

export interface TokenAuthOptions {
  realm: string;
  service: string;
  issuer: string;
  /** PEM file with the certificate(s) whose keys sign the tokens. */
  rootCertBundle: string;
}

export interface StartRegistryOptions {
  htpasswd?: { user: string; password: string };
  token?: TokenAuthOptions;
}

/** A port that was free a moment ago (the registry binds it right after). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function configYaml(dir: string, addr: string, opts: StartRegistryOptions): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(join(dir, 'data'))}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: ${addr}`,
    '  secret: berth-test-registry-secret',
  ];
  if (opts.htpasswd) {
    lines.push('auth:', '  htpasswd:', '    realm: basic-realm', `    path: ${JSON.stringify(join(dir, 'htpasswd'))}`);
  } else if (opts.token) {
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${JSON.stringify(opts.token.realm)}`,
      `    service: ${JSON.stringify(opts.token.service)}`,
      `    issuer: ${JSON.stringify(opts.token.issuer)}`,
      `    rootcertbundle: ${JSON.stringify(opts.token.rootCertBundle)}`,
    );
  }
  return lines.join('\n') + '\n';
}

async function waitForRegistry(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}): ${stderr()}`);
    }
    try {
      const res = await request(`${url}/v2/`, { method: 'GET' });
      await res.body.dump();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`docker-registry did not answer on ${url}: ${stderr()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-registry-'));
  try {
    if (opts.htpasswd) {
      await writeFile(join(dir, 'htpasswd'), `${opts.htpasswd.user}:${bcryptHash(opts.htpasswd.password)}\n`, { mode: 0o600 });
    }
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const configPath = join(dir, 'config.yml');
    await writeFile(configPath, configYaml(dir, host, opts));
    const child = spawn(REGISTRY_BINARY, ['serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      if (err.length < 8192) err += d.toString();
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const url = `http://${host}`;
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        process.kill(child.pid, 'SIGTERM');
        const timer = setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
        }, 5000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    };
    try {
      await waitForRegistry(url, child, () => err);
    } catch (e) {
      await stop();
      throw e;
    }
    return { host, url, dir, stop };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
