/** berthd as a process: start-up, the system routes, the real docker CLI, the data-root lock, SIGTERM. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const berthd = path.join(repoRoot, 'bin', 'berthd');
const version = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface Daemon {
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr: () => string;
}

let dir: string;
let socketPath: string;
let dataRoot: string;
let pidfile: string;
let daemon: Daemon;

function startBerthd(args: string[]): Daemon {
  const child = spawn(process.execPath, [berthd, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

function request(method: string, urlPath: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path: urlPath }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitForPing(d: Daemon): Promise<void> {
  let exitedEarly = false;
  void d.exited.then(() => (exitedEarly = true));
  for (let i = 0; i < 500; i++) {
    if (exitedEarly) throw new Error(`berthd exited during start-up: ${d.stderr()}`);
    try {
      // The socket answers a moment before berthd has secured it and logged that it is ready.
      if ((await request('GET', '/_ping')).status === 200 && d.stderr().includes('API listen on')) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`berthd did not answer /_ping: ${d.stderr()}`);
}

function docker(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${socketPath}`, DOCKER_CONFIG: path.join(dir, 'docker-config') };
  delete env['DOCKER_CONTEXT'];
  return new Promise((resolve) => {
    execFile('docker', args, { env, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const hasDocker = ((process.env['PATH'] ?? '').split(':').some((d) => existsSync(path.join(d, 'docker'))));

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'berthd-it-'));
  socketPath = path.join(dir, 'run', 'berth.sock');
  dataRoot = path.join(dir, 'data');
  pidfile = path.join(dir, 'berthd.pid');
  // An explicit (empty) daemon.json keeps whatever /etc/berth/daemon.json holds out of the test.
  const configFile = path.join(dir, 'daemon.json');
  writeFileSync(configFile, '{}\n');
  daemon = startBerthd([
    '-H', `unix://${socketPath}`, '--data-root', dataRoot, '--exec-root', path.join(dir, 'exec'), '--pidfile', pidfile,
    '--config-file', configFile,
  ]);
  await waitForPing(daemon);
});

after(async () => {
  if (daemon.child.exitCode === null && daemon.child.signalCode === null) {
    daemon.child.kill('SIGKILL');
    await daemon.exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

test('start-up logs like dockerd and writes pidfile and lock', () => {
  assert.match(daemon.stderr(), /level=info msg="Daemon has completed initialization"/);
  assert.ok(daemon.stderr().includes(`msg="API listen on ${socketPath}"`));
  assert.equal(readFileSync(pidfile, 'utf8').trim(), String(daemon.child.pid));
  assert.equal(readFileSync(path.join(dataRoot, 'berthd.lock'), 'utf8').trim(), String(daemon.child.pid));
  assert.equal(statSync(socketPath).mode & 0o777, 0o660);
});

test('/_ping answers OK with docker headers', async () => {
  const r = await request('GET', '/_ping');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'OK');
  assert.equal(r.headers['api-version'], '1.50');
  assert.equal(r.headers['ostype'], 'linux');
  assert.equal(r.headers['builder-version'], '1');
  assert.equal(r.headers['docker-experimental'], 'false');
  assert.match(r.headers['cache-control'] ?? '', /no-cache/);
  assert.equal(r.headers['pragma'], 'no-cache');
  const head = await request('HEAD', '/_ping');
  assert.equal(head.status, 200);
  assert.equal(head.headers['api-version'], '1.50');
});

test('/v1.99/version is refused with docker message', async () => {
  const r = await request('GET', '/v1.99/version');
  assert.equal(r.status, 400);
  assert.deepEqual(JSON.parse(r.body), { message: 'client version 1.99 is too new. Maximum supported API version is 1.50' });
});

test('/version and /info carry real values', async () => {
  const v = JSON.parse((await request('GET', '/v1.50/version')).body) as Record<string, unknown>;
  assert.equal(v['Version'], version);
  assert.equal(v['ApiVersion'], '1.50');
  assert.equal(v['MinAPIVersion'], '1.24');
  const info = JSON.parse((await request('GET', '/v1.50/info')).body) as Record<string, unknown>;
  for (const key of ['ID', 'KernelVersion', 'OperatingSystem', 'Architecture', 'Name', 'ServerVersion', 'Driver', 'CgroupVersion']) {
    assert.equal(typeof info[key], 'string', key);
    assert.ok((info[key] as string).length > 0, key);
  }
  assert.equal(info['DockerRootDir'], dataRoot);
  assert.equal(info['ServerVersion'], version);
  assert.ok((info['NCPU'] as number) > 0);
  assert.ok((info['MemTotal'] as number) > 0);
  assert.equal(info['Images'], 0);
});

test('docker version talks to berthd', { skip: !hasDocker && 'docker CLI not installed' }, async () => {
  const r = await docker(['version']);
  assert.equal(r.code, 0, r.stderr);
  const server = r.stdout.slice(r.stdout.indexOf('Server:'));
  assert.match(server, new RegExp(`Version:\\s+${version.replace(/\./g, '\\.')}`));
  assert.match(server, /API version:\s+1\.50 \(minimum version 1\.24\)/);
});

test('docker info renders', { skip: !hasDocker && 'docker CLI not installed' }, async () => {
  const r = await docker(['info']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`Server Version: ${version.replace(/\./g, '\\.')}`));
  assert.ok(r.stdout.includes(`Docker Root Dir: ${dataRoot}`));
  assert.doesNotMatch(r.stderr, /error/i);
});

test('a second berthd on the same data root refuses to start', async () => {
  const second = startBerthd([
    '-H', `unix://${path.join(dir, 'second.sock')}`, '--data-root', dataRoot, '--exec-root', path.join(dir, 'exec2'),
    '--pidfile', path.join(dir, 'second.pid'), '--config-file', path.join(dir, 'daemon.json'),
  ]);
  const code = await second.exited;
  assert.equal(code, 1);
  assert.match(second.stderr(), /already running with data root/);
  assert.ok(second.stderr().includes(`pid ${daemon.child.pid}`));
  assert.equal(existsSync(path.join(dir, 'second.sock')), false);
  // The running daemon is untouched.
  assert.equal((await request('GET', '/_ping')).status, 200);
});

test('SIGTERM shuts down cleanly and removes socket, pidfile and lock', async () => {
  daemon.child.kill('SIGTERM');
  assert.equal(await daemon.exited, 0);
  assert.equal(existsSync(socketPath), false);
  assert.equal(existsSync(pidfile), false);
  assert.equal(existsSync(path.join(dataRoot, 'berthd.lock')), false);
  assert.match(daemon.stderr(), /Daemon shutdown complete/);
});
