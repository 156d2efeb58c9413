/**
 * Real crun/runc under conmon: create, start, exit codes, logs, attach, TTY resize, exec, surviving
 * the death of the creating process. Needs root, crun, runc and conmon (scripts/install-deps.sh).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, rmdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AttachSocket, resizeTerminal } from '../../src/runtime/attach-socket.js';
import { conmonCreate, conmonExec, type CreatedContainer } from '../../src/runtime/conmon.js';
import { readLog } from '../../src/runtime/container-log.js';
import { readExitCode, waitForExit } from '../../src/runtime/exit-watch.js';
import { isMounted, mountOverlay, unmount } from '../../src/runtime/mounts.js';
import { OciRuntime } from '../../src/runtime/oci-runtime.js';
import type { LogEntry } from '../../src/runtime/runtime-types.js';
import { busyboxRootfs } from '../support/busybox-image.js';

const run = promisify(execFile);
const CGROUP_PARENT = 'berth-test';

interface Bundle {
  id: string;
  dir: string;
  rootfs: string;
  config: Record<string, unknown> & { process: Record<string, unknown> };
  logPath: string;
  exitDir: string;
  persistDir: string;
}

let work: string;
let lowerRootfs: string;
let baseSpec: string;
let crun: OciRuntime;
let runc: OciRuntime;
const bundles: Array<{ b: Bundle; runtime: OciRuntime }> = [];
const timings: Record<string, number[]> = {};

function note(what: string, ms: number): void {
  (timings[what] ??= []).push(ms);
}

const ms = (from: bigint): number => Number(process.hrtime.bigint() - from) / 1e6;

async function makeBundle(runtime: OciRuntime, args: string[], opts: { terminal?: boolean; deep?: boolean } = {}): Promise<Bundle> {
  const id = `berth-test-${Math.random().toString(36).slice(2, 10)}`;
  const dir = opts.deep ? join(work, 'd'.repeat(60), 'e'.repeat(60), id) : join(work, 'b', id);
  const rootfs = join(dir, 'rootfs');
  await Promise.all(['rootfs', 'upper', 'work', 'persist'].map((d) => mkdir(join(dir, d), { recursive: true })));
  const b: Bundle = {
    id,
    dir,
    rootfs,
    config: JSON.parse(baseSpec) as Bundle['config'],
    logPath: join(dir, 'ctr.log'),
    exitDir: join(work, 'exits'),
    persistDir: join(dir, 'persist'),
  };
  bundles.push({ b, runtime });
  await mountOverlay({ lowerDirs: [lowerRootfs], upperDir: join(dir, 'upper'), workDir: join(dir, 'work'), target: rootfs });
  const c = b.config;
  c.process.args = args;
  c.process.terminal = opts.terminal ?? false;
  c.root = { path: rootfs, readonly: false };
  c.hostname = 'berthtest';
  (c.linux as Record<string, unknown>).cgroupsPath = `/${CGROUP_PARENT}/${id}`;
  await writeFile(join(dir, 'config.json'), JSON.stringify(c));
  return b;
}

async function create(
  b: Bundle,
  runtime: OciRuntime,
  opts: { terminal?: boolean; stdin?: boolean; stdinOnce?: boolean } = {},
): Promise<CreatedContainer> {
  const t0 = process.hrtime.bigint();
  const created = await conmonCreate({
    id: b.id,
    name: b.id,
    bundle: b.dir,
    runtime,
    exitDir: b.exitDir,
    persistDir: b.persistDir,
    logPath: b.logPath,
    terminal: opts.terminal ?? false,
    stdin: opts.stdin ?? false,
    stdinOnce: opts.stdinOnce,
  });
  note(`${runtime.name}: conmon spawn -> pid`, ms(t0));
  return created;
}

async function start(b: Bundle, runtime: OciRuntime): Promise<void> {
  const t0 = process.hrtime.bigint();
  await runtime.start(b.id);
  note(`${runtime.name}: start`, ms(t0));
}

/**
 * conmon handles the ctl fifo and the attach socket in one event loop, in no set order, so input sent
 * right after a resize may be read before the resize lands. The container runs `stty size` per input
 * line; keep asking until the answer is the new size.
 */
async function untilSize(sock: AttachSocket, ctlPath: string, rows: number, cols: number): Promise<string> {
  let out = '';
  let answered = 0;
  let wake: (() => void) | undefined;
  sock.onData((_s, d) => {
    out += d.toString();
    wake?.();
  });
  await resizeTerminal(ctlPath, rows, cols);
  for (;;) {
    sock.write(Buffer.from('\n'));
    // Wait for this line's answer: the size, or stty's complaint about a 0x0 terminal.
    while ((out.match(/(\d+ \d+|stty: [^\r]*)\r\n/g) ?? []).length <= answered) await new Promise<void>((r) => (wake = r));
    answered++;
    if (out.includes(`${rows} ${cols}\r\n`)) return out;
  }
}

async function logText(path: string, stream?: 'stdout' | 'stderr'): Promise<string> {
  let s = '';
  for await (const e of readLog(path, { stdout: stream !== 'stderr', stderr: stream !== 'stdout' })) s += e.data.toString();
  return s;
}

function removeCgroups(id?: string): void {
  for (const h of readdirSync('/sys/fs/cgroup')) {
    const parent = join('/sys/fs/cgroup', h, CGROUP_PARENT);
    if (!existsSync(parent)) continue;
    const leaves = id ? [id] : readdirSync(parent, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    for (const leaf of leaves) {
      try {
        rmdirSync(join(parent, leaf));
      } catch {
        /* gone already, or still busy */
      }
    }
    if (!id) {
      try {
        rmdirSync(parent);
      } catch {
        /* not empty: someone else's test container */
      }
    }
  }
}

async function destroy(b: Bundle, runtime: OciRuntime): Promise<void> {
  await runtime.delete(b.id, { force: true });
  await unmount(b.rootfs);
  removeCgroups(b.id);
}

before(async () => {
  const unified = '/sys/fs/cgroup/unified/cgroup.controllers';
  if (existsSync(unified) && (await readFile(unified, 'utf8')).includes('hugetlb')) {
    throw new Error('crun needs hugetlb off cgroup2: run `sh scripts/install-deps.sh` first');
  }
  work = await mkdtemp(join(tmpdir(), 'berth-rt-'));
  lowerRootfs = await busyboxRootfs();
  const specDir = join(work, 'spec');
  await mkdir(specDir);
  await run('/usr/bin/crun', ['spec'], { cwd: specDir });
  baseSpec = await readFile(join(specDir, 'config.json'), 'utf8');
  crun = new OciRuntime({ name: 'crun', path: '/usr/bin/crun', root: join(work, 'crun') });
  runc = new OciRuntime({ name: 'runc', path: '/usr/bin/runc', root: join(work, 'runc') });
});

after(async () => {
  for (const { b, runtime } of bundles) {
    await runtime.delete(b.id, { force: true }).catch(() => undefined);
    await unmount(b.rootfs, { lazy: true }).catch(() => undefined);
  }
  removeCgroups();
  if (work) await rm(work, { recursive: true, force: true });
  const lines = Object.entries(timings).map(([k, v]) => {
    const sorted = [...v].sort((a, b) => a - b);
    return `${k}: median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)} ms of ${v.length}`;
  });
  if (lines.length > 0) console.log(`# timings\n# ${lines.join('\n# ')}`);
});

describe('conmon + crun', () => {
  test('exit code, stdout and stderr in the k8s-file log', async () => {
    for (let i = 0; i < 5; i++) {
      const b = await makeBundle(crun, ['sh', '-c', 'echo out; echo err >&2; exit 3']);
      const t0 = process.hrtime.bigint();
      const c = await create(b, crun);
      assert.ok(c.pid > 0);
      assert.ok(c.conmonPid > 0 && c.conmonPid !== c.pid);
      assert.equal((await crun.state(b.id))?.status, 'created');
      await start(b, crun);
      const code = await waitForExit(b.exitDir, b.id);
      note('crun: conmon spawn -> exit file (sh, echo, exit 3)', ms(t0));
      assert.equal(code, 3);
      assert.equal(await readExitCode(b.exitDir, b.id), 3);
      assert.equal(await readExitCode(b.persistDir, 'exit'), 3);
      assert.equal(await logText(b.logPath, 'stdout'), 'out\n');
      assert.equal(await logText(b.logPath, 'stderr'), 'err\n');
      assert.equal((await crun.state(b.id))?.status, 'stopped');
      const t1 = process.hrtime.bigint();
      await destroy(b, crun);
      note('cleanup: delete -f + unmount + cgroups', ms(t1));
      assert.equal(await crun.state(b.id), undefined);
      assert.equal(await isMounted(b.rootfs), false);
    }
  });

  test('the runtime error comes back when create or start fails', async () => {
    const b = await makeBundle(crun, ['/nonexistent']);
    // crun may report a missing executable at create (through conmon) or at start.
    try {
      await create(b, crun);
      await assert.rejects(crun.start(b.id), /nonexistent/);
    } catch (e) {
      assert.match((e as Error).message, /crun create .*nonexistent/);
    }
    await destroy(b, crun);
    const bad = await makeBundle(crun, ['true']);
    bad.config.process.rlimits = [{ type: 'RLIMIT_NOFILE', hard: 99_999_999, soft: 99_999_999 }];
    await writeFile(join(bad.dir, 'config.json'), JSON.stringify(bad.config));
    await assert.rejects(create(bad, crun), /crun create .*\S/);
    await destroy(bad, crun);
    const noConmon = conmonCreate({
      id: bad.id, name: bad.id, bundle: bad.dir, runtime: crun, exitDir: bad.exitDir, persistDir: bad.persistDir,
      logPath: bad.logPath, terminal: false, stdin: false, conmonPath: '/nonexistent/conmon',
    });
    await assert.rejects(noConmon, (e: Error & { code?: string }) => e.code === 'unavailable');
    const noRuntime = new OciRuntime({ name: 'crun', path: '/nonexistent/crun', root: join(work, 'none') });
    await assert.rejects(noRuntime.state('x'), (e: Error & { code?: string }) => e.code === 'unavailable');
  });

  test('a container outlives the process that created it', async () => {
    const b = await makeBundle(crun, ['sleep', '1000']);
    const dist = fileURLToPath(new URL('../../src/runtime/', import.meta.url));
    const opts = { id: b.id, name: b.id, bundle: b.dir, exitDir: b.exitDir, persistDir: b.persistDir, logPath: b.logPath, terminal: false, stdin: false };
    const script = `
      import { conmonCreate } from ${JSON.stringify(join(dist, 'conmon.js'))};
      import { OciRuntime } from ${JSON.stringify(join(dist, 'oci-runtime.js'))};
      const runtime = new OciRuntime(${JSON.stringify({ name: crun.name, path: crun.path, root: crun.root })});
      const c = await conmonCreate({ ...${JSON.stringify(opts)}, runtime });
      await runtime.start(${JSON.stringify(b.id)});
      process.stdout.write(JSON.stringify(c) + '\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (d: string) => {
        buf += d;
        if (buf.includes('\n')) resolve(buf.trim());
      });
      child.on('exit', (code) => reject(new Error(`creator exited early (${code})`)));
    });
    const created = JSON.parse(line) as CreatedContainer;
    const gone = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    await gone;
    const st = await crun.state(b.id);
    assert.equal(st?.status, 'running');
    assert.equal(st?.pid, created.pid);
    assert.equal(await readExitCode(b.exitDir, b.id), undefined);
    await crun.kill(b.id, 'KILL');
    assert.equal(await waitForExit(b.exitDir, b.id), 137);
    // Killing what has already stopped is fine.
    await crun.kill(b.id, 'KILL');
    await destroy(b, crun);
    await assert.rejects(crun.kill(b.id, 'KILL'), (e: Error & { code?: string }) => e.code === 'not_found');
  });

  test('attach with stdin (-i): write, read the echo, close stdin, exit 0', async () => {
    const b = await makeBundle(crun, ['cat']);
    const c = await create(b, crun, { stdin: true, stdinOnce: true });
    const sock = await AttachSocket.connect(c.attachPath);
    let out = '';
    const closed = new Promise<void>((resolve) => sock.onClose(resolve));
    const got = new Promise<void>((resolve) =>
      sock.onData((stream, data) => {
        if (stream === 'stdout') out += data.toString();
        if (out.includes('hello')) resolve();
      }),
    );
    await start(b, crun);
    const t0 = process.hrtime.bigint();
    sock.write(Buffer.from('hello\n'));
    await got;
    note('attach: first round trip (cat, non-TTY; may include starting the poller thread)', ms(t0));
    assert.equal(out, 'hello\n');
    // Paused, the input still goes in; the echo arrives after resume.
    sock.pause();
    let early = false;
    const resumed = new Promise<void>((resolve) => sock.onData((_s, d) => (d.toString() === 'p\n' ? (early ? resolve() : undefined) : undefined)));
    sock.write(Buffer.from('p\n'));
    await readExitCode(b.exitDir, b.id); // a round trip through the threadpool, time for the echo to come back if it were read
    assert.equal(out, 'hello\n');
    early = true;
    sock.resume();
    await resumed;
    assert.equal(out, 'hello\np\n');
    out = 'hello\n';
    for (let i = 0; i < 20; i++) {
      const t1 = process.hrtime.bigint();
      const before = out.length;
      const echoed = new Promise<void>((resolve) => sock.onData(() => out.length >= before + 2 && resolve()));
      sock.write(Buffer.from('x\n'));
      await echoed;
      note('attach: round trip (cat, non-TTY)', ms(t1));
    }
    assert.equal(out, `hello\n${'x\n'.repeat(20)}`);
    sock.closeStdin();
    assert.equal(await waitForExit(b.exitDir, b.id), 0);
    await closed;
    assert.equal(await logText(b.logPath), `hello\np\n${'x\n'.repeat(20)}`);
    await destroy(b, crun);
  });

  test('attach when the socket path is longer than sun_path', async () => {
    const b = await makeBundle(crun, ['sh', '-c', 'read x; echo deep:$x'], { deep: true });
    const c = await create(b, crun, { stdin: true, stdinOnce: true });
    assert.ok(Buffer.byteLength(c.attachPath) > 108);
    const sock = await AttachSocket.connect(c.attachPath);
    let out = '';
    sock.onData((_s, d) => (out += d.toString()));
    const closed = new Promise<void>((resolve) => sock.onClose(resolve));
    await start(b, crun);
    sock.write(Buffer.from('yes\n'));
    assert.equal(await waitForExit(b.exitDir, b.id), 0);
    await closed;
    assert.equal(out, 'deep:yes\n');
    await destroy(b, crun);
  });

  test('detach and re-attach keep the container running', async () => {
    const b = await makeBundle(crun, ['sh', '-c', 'while read l; do echo got:$l; done']);
    const c = await create(b, crun, { stdin: true, stdinOnce: false });
    await start(b, crun);
    for (const word of ['one', 'two']) {
      const sock = await AttachSocket.connect(c.attachPath);
      const got = new Promise<string>((resolve) => sock.onData((_s, d) => resolve(d.toString())));
      sock.write(Buffer.from(`${word}\n`));
      assert.equal(await got, `got:${word}\n`);
      sock.close();
    }
    assert.equal((await crun.state(b.id))?.status, 'running');
    await crun.kill(b.id, 'KILL');
    assert.equal(await waitForExit(b.exitDir, b.id), 137);
    await destroy(b, crun);
  });

  test('many attachments do not tie up the libuv threadpool', { timeout: 30_000 }, async () => {
    const b = await makeBundle(crun, ['sh', '-c', 'while read l; do echo got:$l; done']);
    const c = await create(b, crun, { stdin: true, stdinOnce: false });
    await start(b, crun);
    const socks = await Promise.all(Array.from({ length: 8 }, () => AttachSocket.connect(c.attachPath)));
    // With one blocking read per attachment on the threadpool (4 threads), these would never finish.
    const files = await Promise.all(Array.from({ length: 16 }, () => readFile('/proc/self/stat', 'utf8')));
    assert.equal(files.length, 16);
    const got = new Promise<string>((resolve) => socks[7]?.onData((_s, d) => resolve(d.toString())));
    socks[0]?.write(Buffer.from('all\n'));
    assert.equal(await got, 'got:all\n');
    const closes = socks.map((s) => new Promise<void>((resolve) => s.onClose(resolve)));
    for (const s of socks) s.close();
    await Promise.all(closes);
    assert.equal((await crun.state(b.id))?.status, 'running');
    await crun.kill(b.id, 'KILL');
    assert.equal(await waitForExit(b.exitDir, b.id), 137);
    await destroy(b, crun);
  });

  test('a TTY container sees the size set through the ctl fifo', async () => {
    const b = await makeBundle(crun, ['sh', '-c', 'while read x; do stty size; done; exit 4'], { terminal: true });
    const c = await create(b, crun, { terminal: true });
    const sock = await AttachSocket.connect(c.attachPath);
    const streams = new Set<string>();
    sock.onData((stream) => streams.add(stream));
    const closed = new Promise<void>((resolve) => sock.onClose(resolve));
    await start(b, crun);
    const out = await untilSize(sock, c.ctlPath, 40, 100);
    assert.match(out, /40 100\r\n/);
    sock.write(Buffer.from('\x04'));
    assert.equal(await waitForExit(b.exitDir, b.id), 4);
    await closed;
    assert.deepEqual([...streams], ['stdout']);
    assert.match(await logText(b.logPath), /40 100\r\n/);
    await destroy(b, crun);
  });

  test('exec in a running container: output in its log, exit code; and exec with attach', async () => {
    const b = await makeBundle(crun, ['sleep', '1000']);
    await create(b, crun);
    await start(b, crun);
    const sessionDir = join(b.dir, 'exec-1');
    const t0 = process.hrtime.bigint();
    const s = await conmonExec({
      containerId: b.id,
      sessionId: 'exec-1',
      sessionDir,
      runtime: crun,
      process: { ...b.config.process, terminal: false, args: ['sh', '-c', 'echo hi; exit 6'] },
      terminal: false,
      stdin: false,
      attach: false,
      logPath: join(sessionDir, 'exec.log'),
    });
    await s.start();
    assert.ok((await s.pid) > 0);
    assert.equal(await s.exitCode, 6);
    note('exec: conmon spawn -> exit code (echo)', ms(t0));
    assert.equal(await logText(join(sessionDir, 'exec.log')), 'hi\n');

    const attached = await conmonExec({
      containerId: b.id,
      sessionId: 'exec-2',
      sessionDir: join(b.dir, 'exec-2'),
      runtime: crun,
      process: { ...b.config.process, terminal: false, args: ['sh', '-c', 'read x; echo got:$x; echo oops >&2; exit 2'] },
      terminal: false,
      stdin: true,
      attach: true,
    });
    assert.ok(attached.attachPath);
    const sock = await AttachSocket.connect(attached.attachPath);
    const seen: Array<[string, string]> = [];
    const closed = new Promise<void>((resolve) => sock.onClose(resolve));
    sock.onData((stream, d) => seen.push([stream, d.toString()]));
    await attached.start();
    assert.ok((await attached.pid) > 0);
    sock.write(Buffer.from('ping\n'));
    assert.equal(await attached.exitCode, 2);
    await closed;
    const out = seen.filter(([st]) => st === 'stdout').map(([, d]) => d).join('');
    const err = seen.filter(([st]) => st === 'stderr').map(([, d]) => d).join('');
    assert.equal(out, 'got:ping\n');
    assert.equal(err, 'oops\n');

    const tty = await conmonExec({
      containerId: b.id,
      sessionId: 'exec-tty',
      sessionDir: join(b.dir, 'exec-tty'),
      runtime: crun,
      process: { ...b.config.process, terminal: true, args: ['sh', '-c', 'while read x; do stty size; done; tty'] },
      terminal: true,
      stdin: true,
      attach: true,
    });
    assert.ok(tty.attachPath);
    const ttySock = await AttachSocket.connect(tty.attachPath);
    let ttyOut = '';
    const ttyClosed = new Promise<void>((resolve) => ttySock.onClose(resolve));
    ttySock.onData((_st, d) => (ttyOut += d.toString()));
    await tty.start();
    await tty.pid;
    await untilSize(ttySock, tty.ctlPath, 30, 90);
    ttySock.write(Buffer.from('\x04'));
    assert.equal(await tty.exitCode, 0);
    await ttyClosed;
    assert.match(ttyOut, /30 90\r\n/);
    assert.match(ttyOut, /\/dev\/pts\/\d+\r\n/);

    const missing = await conmonExec({
      containerId: b.id,
      sessionId: 'exec-3',
      sessionDir: join(b.dir, 'exec-3'),
      runtime: crun,
      process: { ...b.config.process, terminal: false, args: ['/nonexistent'] },
      terminal: false,
      stdin: false,
      attach: false,
    });
    await assert.rejects(missing.pid, /nonexistent/);
    await assert.rejects(missing.exitCode);

    await crun.kill(b.id, 'KILL');
    assert.equal(await waitForExit(b.exitDir, b.id), 137);
    await destroy(b, crun);
  });

  test('pause, resume, update, list', async () => {
    const b = await makeBundle(crun, ['sleep', '1000']);
    const c = await create(b, crun);
    await start(b, crun);
    await crun.pause(b.id);
    assert.equal((await crun.state(b.id))?.status, 'paused');
    await crun.resume(b.id);
    assert.equal((await crun.state(b.id))?.status, 'running');
    await crun.update(b.id, { pids: { limit: 77 } });
    assert.equal((await readFile(`/sys/fs/cgroup/pids/${CGROUP_PARENT}/${b.id}/pids.max`, 'utf8')).trim(), '77');
    const listed = (await crun.list()).find((e) => e.id === b.id);
    assert.deepEqual(listed, { id: b.id, status: 'running', pid: c.pid });
    await crun.kill(b.id, 'KILL');
    assert.equal(await waitForExit(b.exitDir, b.id), 137);
    await destroy(b, crun);
    assert.equal((await crun.list()).find((e) => e.id === b.id), undefined);
  });

  test('waitForExit can be aborted', async () => {
    const ac = new AbortController();
    const waiting = waitForExit(work, 'never-written', ac.signal);
    ac.abort();
    await assert.rejects(waiting, (e: Error) => e.name === 'AbortError');
  });

  test('readLog follow sees a running container write', async () => {
    const b = await makeBundle(crun, ['sh', '-c', 'while read l; do echo line:$l; done']);
    const c = await create(b, crun, { stdin: true, stdinOnce: true });
    await start(b, crun);
    const ac = new AbortController();
    const it = readLog(b.logPath, { stdout: true, stderr: true, follow: true, signal: ac.signal })[Symbol.asyncIterator]();
    const sock = await AttachSocket.connect(c.attachPath);
    const first = it.next();
    sock.write(Buffer.from('a\n'));
    assert.equal(((await first).value as LogEntry).data.toString(), 'line:a\n');
    const second = it.next();
    sock.write(Buffer.from('b\n'));
    assert.equal(((await second).value as LogEntry).data.toString(), 'line:b\n');
    sock.closeStdin();
    assert.equal(await waitForExit(b.exitDir, b.id), 0);
    ac.abort();
    assert.equal((await it.next()).done, true);
    sock.close();
    await destroy(b, crun);
  });
});

describe('conmon + runc', () => {
  test('the same flow works with runc', async () => {
    const b = await makeBundle(runc, ['sh', '-c', 'echo via runc; exit 5']);
    const t0 = process.hrtime.bigint();
    const c = await create(b, runc);
    assert.ok(c.pid > 0);
    assert.equal((await runc.state(b.id))?.status, 'created');
    await start(b, runc);
    assert.equal(await waitForExit(b.exitDir, b.id), 5);
    note('runc: conmon spawn -> exit file', ms(t0));
    assert.equal(await logText(b.logPath), 'via runc\n');
    await destroy(b, runc);
    assert.equal(await runc.state(b.id), undefined);
  });

  test('runc: kill, exec and delete', async () => {
    const b = await makeBundle(runc, ['sleep', '1000']);
    await create(b, runc);
    await start(b, runc);
    const s = await conmonExec({
      containerId: b.id,
      sessionId: 'e1',
      sessionDir: join(b.dir, 'e1'),
      runtime: runc,
      process: { ...b.config.process, terminal: false, args: ['sh', '-c', 'exit 9'] },
      terminal: false,
      stdin: false,
      attach: false,
    });
    assert.equal(await s.exitCode, 9);
    await runc.kill(b.id, 'KILL');
    assert.equal(await waitForExit(b.exitDir, b.id), 137);
    await runc.kill(b.id, 'KILL');
    await destroy(b, runc);
  });
});
