import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { mountsBelow, pingSocket, runCli, startDaemon } from '../support/berthd.js';

/**
 * A stand-in for berthd with the same flags: answers /_ping, and with --spawn-monitor leaves a
 * detached process behind (as conmon does) whose pid it writes to <exec-root>/monitor.pid.
 */
const FAKE_DAEMON = `
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
const argv = process.argv.slice(2);
const flag = (n) => { const i = argv.indexOf(n); return i < 0 ? undefined : argv[i + 1]; };
if (argv.includes('--fail-now')) { console.error('fatal: bad flag'); process.exit(3); }
const socket = flag('--host').replace('unix://', '');
const execRoot = flag('--exec-root');
if (argv.includes('--spawn-monitor')) {
  const c = spawn('sh', ['-c', 'sleep 300', execRoot + '/fake-monitor'], { detached: true, stdio: 'ignore' });
  c.unref();
  writeFileSync(execRoot + '/monitor.pid', String(c.pid));
}
const server = createServer((req, res) => res.end(req.url === '/_ping' ? 'OK' : JSON.stringify(argv)));
server.listen(socket, () => console.error('API listen on ' + socket));
process.on('SIGTERM', () => { console.error('stopping'); server.close(() => process.exit(0)); });
`;

const scratch = mkdtempSync(join(tmpdir(), 'fixtures-berthd-'));
const fake = join(scratch, 'fake-berthd.mjs');
writeFileSync(fake, FAKE_DAEMON);
after(() => rmSync(scratch, { recursive: true, force: true }));

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('startDaemon with a fake berthd', () => {
  it('waits for /_ping, passes dockerd-style flags, captures logs and cleans up on stop', async () => {
    const d = await startDaemon({ binary: fake, mirrors: ['http://127.0.0.1:1'], args: ['--log-level', 'debug'] });
    assert.equal(d.host, `unix://${d.socket}`);
    assert.equal(d.env['DOCKER_HOST'], d.host);
    assert.equal(await pingSocket(d.socket), 200);
    assert.match(d.logs(), /API listen on/);
    const res = await fetchArgv(d.socket);
    assert.deepEqual(res.slice(res.indexOf('--registry-mirror')), ['--registry-mirror', 'http://127.0.0.1:1', '--log-level', 'debug']);
    assert.equal(res[res.indexOf('--data-root') + 1], d.dataRoot);
    assert.equal(res[res.indexOf('--exec-root') + 1], d.execRoot);
    assert.ok(existsSync(d.dataRoot));
    await d.stop();
    assert.match(d.logs(), /stopping/);
    assert.equal(existsSync(d.dataRoot), false);
    assert.equal(existsSync(d.socket), false);
  });

  it('rejects with the daemon output when the daemon exits early', async () => {
    await assert.rejects(startDaemon({ binary: fake, args: ['--fail-now'] }), /exited \(code 3.*\n.*fatal: bad flag/s);
  });

  it('kill9 leaves the data root for a restart; stop kills leftover monitors and unmounts', { skip: process.getuid?.() !== 0 && 'needs root to mount' }, async () => {
    const d1 = await startDaemon({ binary: fake, args: ['--spawn-monitor'] });
    const monitorPid = Number(readFileSync(join(d1.execRoot, 'monitor.pid'), 'utf8'));
    assert.ok(alive(monitorPid));
    const mnt = join(d1.dataRoot, 'mnt');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', mnt]);
    assert.deepEqual(await mountsBelow(d1.dataRoot), [mnt]);
    await d1.kill9();
    assert.equal(alive(d1.pid), false);
    assert.ok(existsSync(mnt));

    const d2 = await startDaemon({ binary: fake, dataRoot: d1.dataRoot });
    assert.equal(d2.dataRoot, d1.dataRoot);
    await d2.stop();
    assert.ok(existsSync(d1.dataRoot), 'a borrowed data root is not removed');

    await d1.stop();
    assert.equal(alive(monitorPid), false);
    assert.deepEqual(await mountsBelow(d1.dataRoot), []);
    assert.equal(existsSync(d1.dataRoot), false);
  });
});

describe('runCli', () => {
  it('runs a CLI with stdin and reports exit code and output', async () => {
    // bin/berth may not be built yet in this branch; the docker CLI always exists here.
    const r = await runCli('docker', ['--version'], { env: process.env }, { input: 'ignored' });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Docker version/);
  });

  it('reports a failing command', async () => {
    const r = await runCli('docker', ['no-such-verb'], { env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent.sock' } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no-such-verb|unknown/i);
  });
});

async function fetchArgv(socket: string): Promise<string[]> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path: '/argv' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve(JSON.parse(body) as string[]));
    });
    req.on('error', reject);
    req.end();
  });
}
