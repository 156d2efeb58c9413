/**
 * Containers through the real docker CLI against one berthd: run (output, exit codes, stdin), the
 * lifecycle verbs (ps, logs, stop, kill, restart, wait, rm, rename, inspect), Docker's error wording,
 * the process settings (user, workdir, env, hostname, entrypoint, mounts, capabilities, cgroup limits,
 * --init), the runc runtime, surviving a SIGKILLed daemon (and exec into a container the next daemon adopted),
 * and a clean host once everything is removed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxRootfs } from '../support/busybox-image.js';
import { type CliResult, mountsBelow, runCli, startDaemon, type TestDaemon } from '../support/berthd.js';

/** The PATH the Docker Hub busybox image sets in its config. */
const IMAGE_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

let daemon: TestDaemon;
/** A daemon killed with SIGKILL mid-test; stopped (cleaned up) after the daemon that replaced it. */
let killedDaemon: TestDaemon | undefined;
let hostDir: string;

const docker = (args: string[], input?: string): Promise<CliResult> => runCli('docker', args, daemon, { input });

/** Runs docker and fails the test, showing stderr, unless it exits 0. */
async function dockerOk(args: string[], input?: string): Promise<string> {
  const r = await docker(args, input);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const inspect = async (name: string, format: string): Promise<string> => (await dockerOk(['inspect', '--format', format, name])).trim();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls for a file the container writes into a bind-mounted host dir (the container's way to say "got here"). */
async function waitForFile(path: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await access(path).then(() => true, () => false)) return;
    await sleep(50);
  }
  assert.fail(`${path} did not appear`);
}

before(async () => {
  daemon = await startDaemon();
  hostDir = await mkdtemp(join(tmpdir(), 'berth-ctr-cli-'));
  const tar = spawnSync('tar', ['-C', await busyboxRootfs(), '-c', '.'], { maxBuffer: 64 << 20 });
  assert.equal(tar.status, 0);
  const imported = await runCli('docker', ['import', '-c', 'CMD ["sh"]', '-c', `ENV ${IMAGE_PATH}`, '-', 'busybox:latest'], daemon, {
    input: tar.stdout,
  });
  assert.equal(imported.code, 0, imported.stderr);
});

after(async () => {
  await daemon?.stop();
  await killedDaemon?.stop();
  if (hostDir) await rm(hostDir, { recursive: true, force: true });
});

test('docker run --rm prints the output, returns the exit code and leaves no container', async () => {
  const hi = await docker(['run', '--rm', '--name', 'rm-hi', 'busybox', 'echo', 'hi']);
  assert.deepEqual(hi, { code: 0, stdout: 'hi\n', stderr: '' });
  const five = await docker(['run', '--rm', '--name', 'rm-five', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 5']);
  assert.deepEqual(five, { code: 5, stdout: 'out\n', stderr: 'err\n' });
  const names = await dockerOk(['ps', '-a', '--format', '{{.Names}}']);
  assert.doesNotMatch(names, /rm-hi|rm-five/);

  const piped = await docker(['run', '-i', '--rm', 'busybox', 'cat'], 'hello\nworld\n');
  assert.deepEqual(piped, { code: 0, stdout: 'hello\nworld\n', stderr: '' });
});

test('docker run without --rm leaves an Exited row with its code, and inspect shows the config', async () => {
  const r = await docker(['run', '--name', 'ex5', '-e', 'A=b', 'busybox', 'sh', '-c', 'exit 5']);
  assert.equal(r.code, 5, r.stderr);
  const row = await dockerOk(['ps', '-a', '--filter', 'name=ex5', '--format', '{{.Names}}|{{.Status}}|{{.Command}}']);
  assert.match(row, /^ex5\|Exited \(5\) .*\|"sh -c 'exit 5'"\n$/);
  assert.equal(await dockerOk(['ps', '--filter', 'name=ex5', '--format', '{{.Names}}']), '', 'not among the running');
  assert.equal(await inspect('ex5', '{{.State.Status}} {{.State.ExitCode}} {{.State.Running}} {{.Name}} {{.HostConfig.AutoRemove}}'), 'exited 5 false /ex5 false');
  assert.deepEqual(JSON.parse(await inspect('ex5', '{{json .Config.Cmd}}')), ['sh', '-c', 'exit 5']);
  const env = JSON.parse(await inspect('ex5', '{{json .Config.Env}}')) as string[];
  assert.ok(env.includes(IMAGE_PATH), JSON.stringify(env));
  assert.ok(env.includes('A=b'), JSON.stringify(env));

  await dockerOk(['create', '--rm', '--name', 'autorm', 'busybox', 'true']);
  assert.equal(await inspect('autorm', '{{.State.Status}} {{.HostConfig.AutoRemove}}'), 'created true');
  await dockerOk(['rm', 'autorm', 'ex5']);
});

test('a command that cannot start exits 127 (not found) or 126 (not executable), as Docker reports it', async () => {
  const missing = await docker(['run', '--name', 'nocmd', 'busybox', 'nosuchcmd']);
  assert.equal(missing.code, 127);
  assert.match(missing.stderr, /exec: "nosuchcmd": executable file not found in \$PATH/);
  assert.equal(await inspect('nocmd', '{{.State.ExitCode}} {{.State.Running}}'), '127 false');
  const notExec = await docker(['run', '--rm', 'busybox', '/etc/passwd']);
  assert.equal(notExec.code, 126);
  assert.match(notExec.stderr, /exec: "\/etc\/passwd": permission denied/);
  await dockerOk(['rm', 'nocmd']);
});

test('a detached container through ps, logs, rename, stop, wait, restart, kill and rm, with Docker\'s conflicts', async () => {
  // The trap gives `docker stop` a distinctive exit code; the short sleeps let the shell run it promptly.
  const script = 'trap "echo bye; exit 7" TERM; echo started; while true; do sleep 0.05; done';
  const id = (await dockerOk(['run', '-d', '--name', 'life1', 'busybox', 'sh', '-c', script])).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  assert.equal(await dockerOk(['ps', '--format', '{{.ID}} {{.Names}}', '--filter', 'name=life1']), `${id.slice(0, 12)} life1\n`);
  assert.equal(await inspect('life1', '{{.State.Status}} {{.State.Running}} {{.State.ExitCode}}'), 'running true 0');

  const dup = await docker(['run', '-d', '--name', 'life1', 'busybox', 'true']);
  assert.equal(dup.code, 125);
  assert.match(dup.stderr, /Conflict\. The container name "\/life1" is already in use by container "[0-9a-f]{64}"/);

  const rmRunning = await docker(['rm', 'life1']);
  assert.notEqual(rmRunning.code, 0);
  assert.match(rmRunning.stderr, /container is running: stop the container before removing or force remove/);

  const rmiRunning = await docker(['rmi', 'busybox']);
  assert.notEqual(rmiRunning.code, 0);
  assert.match(rmiRunning.stderr, /conflict: unable to delete [0-9a-f]{12} \(cannot be forced\) - image is being used by running container [0-9a-f]{12}/);

  await dockerOk(['rename', 'life1', 'life2']);
  assert.equal(await inspect(id, '{{.Name}}'), '/life2');
  assert.equal((await docker(['inspect', 'life1'])).code, 1, 'the old name is free');

  // The container may not have printed "started" yet right after `run -d`.
  for (let i = 0; i < 100 && !(await dockerOk(['logs', 'life2'])).includes('started'); i++) await sleep(50);
  assert.equal(await dockerOk(['logs', 'life2']), 'started\n');

  const waiting = docker(['wait', 'life2']);
  await dockerOk(['stop', '-t', '5', 'life2']);
  assert.deepEqual(await waiting, { code: 0, stdout: '7\n', stderr: '' });
  assert.equal(await inspect('life2', '{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}'), 'exited 7 false');
  assert.equal(await dockerOk(['logs', 'life2']), 'started\nbye\n');
  assert.equal(await dockerOk(['wait', 'life2']), '7\n', 'wait on an exited container returns at once');

  const rmiStopped = await docker(['rmi', 'busybox']);
  assert.notEqual(rmiStopped.code, 0);
  assert.match(rmiStopped.stderr, /conflict: unable to delete [0-9a-f]{12} \(must be forced\) - image is being used by stopped container [0-9a-f]{12}/);

  await dockerOk(['restart', '-t', '5', 'life2']);
  assert.equal(await inspect('life2', '{{.State.Status}} {{.State.Running}}'), 'running true');
  await dockerOk(['kill', 'life2']);
  assert.equal(await dockerOk(['wait', 'life2']), '137\n');
  assert.equal(await inspect('life2', '{{.State.Status}} {{.State.ExitCode}}'), 'exited 137');

  await dockerOk(['restart', 'life2']);
  assert.equal(await inspect('life2', '{{.State.Running}}'), 'true');
  await dockerOk(['rm', '-f', 'life2']);
  assert.equal(await dockerOk(['ps', '-a', '--filter', `id=${id}`, '--format', '{{.ID}}']), '');
});

test('docker logs: --tail, -t, stderr, and -f until the container exits', async () => {
  const r = await docker(['run', '--name', 'logs1', 'busybox', 'sh', '-c', 'for i in 1 2 3 4 5; do echo l$i; done; echo oops >&2']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await docker(['logs', 'logs1']), { code: 0, stdout: 'l1\nl2\nl3\nl4\nl5\n', stderr: 'oops\n' });
  assert.deepEqual(await docker(['logs', '--tail', '2', 'logs1']), { code: 0, stdout: 'l5\n', stderr: 'oops\n' });
  const stamped = await docker(['logs', '-t', '--tail', '3', 'logs1']);
  assert.match(stamped.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z l4\n\S+Z l5\n$/);
  await dockerOk(['rm', 'logs1']);

  const go = join(hostDir, 'logs-go');
  await dockerOk(['run', '-d', '--name', 'logs2', '-v', `${hostDir}:/data`, 'busybox', 'sh', '-c',
    'echo first; while [ ! -f /data/logs-go ]; do sleep 0.05; done; echo second']);
  const following = docker(['logs', '-f', 'logs2']);
  await writeFile(go, '');
  assert.deepEqual(await following, { code: 0, stdout: 'first\nsecond\n', stderr: '' });
  await dockerOk(['rm', 'logs2']);
});

test('process settings: user, workdir, env, hostname, entrypoint', async () => {
  const run = (...args: string[]): Promise<string> => dockerOk(['run', '--rm', ...args]);
  assert.equal(await run('busybox', 'id', '-u'), '0\n');
  assert.equal(await run('--user', 'nobody', 'busybox', 'id', '-u'), '65534\n');
  assert.equal(await run('--user', '1234:5678', 'busybox', 'sh', '-c', 'echo $(id -u) $(id -g)'), '1234 5678\n');
  assert.equal(await run('busybox', 'pwd'), '/\n');
  assert.equal(await run('-w', '/tmp', 'busybox', 'pwd'), '/tmp\n');
  assert.equal(await run('-e', 'A=b', 'busybox', 'sh', '-c', 'echo $A'), 'b\n');
  assert.equal(await run('--hostname', 'h1', 'busybox', 'hostname'), 'h1\n');
  assert.equal(await run('--entrypoint', 'echo', 'busybox', 'via', 'entrypoint'), 'via entrypoint\n');
  assert.ok((await run('--entrypoint', 'env', 'busybox')).split('\n').includes(IMAGE_PATH), 'the image PATH reaches the process');
});

test('mounts: -v bind (rw and :ro), --read-only, --tmpfs', async () => {
  await dockerOk(['run', '--rm', '-v', `${hostDir}:/data`, 'busybox', 'sh', '-c', 'echo from-container > /data/out.txt']);
  assert.equal(await readFile(join(hostDir, 'out.txt'), 'utf8'), 'from-container\n');
  await writeFile(join(hostDir, 'in.txt'), 'from-host\n');
  assert.equal(await dockerOk(['run', '--rm', '-v', `${hostDir}:/data:ro`, 'busybox', 'cat', '/data/in.txt']), 'from-host\n');

  const created = (await dockerOk(['create', '-v', `${hostDir}:/data:ro`, 'busybox', 'true'])).trim();
  const mounts = JSON.parse(await dockerOk(['inspect', '--format', '{{json .Mounts}}', created])) as Array<Record<string, unknown>>;
  assert.deepEqual(mounts, [{ Type: 'bind', Source: hostDir, Destination: '/data', Mode: 'ro', RW: false, Propagation: 'rprivate' }]);
  await dockerOk(['rm', created]);

  const roBind = await docker(['run', '--rm', '-v', `${hostDir}:/data:ro`, 'busybox', 'touch', '/data/nope']);
  assert.equal(roBind.code, 1);
  assert.match(roBind.stderr, /Read-only file system/);
  assert.equal(await access(join(hostDir, 'nope')).then(() => true, () => false), false);

  const roRoot = await docker(['run', '--rm', '--read-only', 'busybox', 'touch', '/x']);
  assert.equal(roRoot.code, 1);
  assert.match(roRoot.stderr, /touch: \/x: Read-only file system/);
  assert.equal(await dockerOk(['run', '--rm', 'busybox', 'sh', '-c', 'touch /x && echo ok']), 'ok\n', 'the root is writable by default');
  assert.equal(
    await dockerOk(['run', '--rm', '--read-only', '--tmpfs', '/scratch', 'busybox', 'sh', '-c', 'echo t > /scratch/f && cat /scratch/f && grep " /scratch " /proc/mounts | cut -d" " -f3']),
    't\ntmpfs\n',
  );
});

test('security: --cap-drop ALL, --privileged', async () => {
  assert.equal(await dockerOk(['run', '--rm', 'busybox', 'sh', '-c', 'chown nobody /tmp && echo ok']), 'ok\n');
  const dropped = await docker(['run', '--rm', '--cap-drop', 'ALL', 'busybox', 'chown', 'nobody', '/tmp']);
  assert.equal(dropped.code, 1);
  assert.match(dropped.stderr, /chown: \/tmp: Operation not permitted/);

  const mountTmpfs = ['busybox', 'sh', '-c', 'mkdir /m && mount -t tmpfs none /m && echo mounted'];
  const plain = await docker(['run', '--rm', ...mountTmpfs]);
  assert.notEqual(plain.code, 0, 'an unprivileged container cannot mount');
  assert.equal(await dockerOk(['run', '--rm', '--privileged', ...mountTmpfs]), 'mounted\n');
  const capEff = async (...flags: string[]): Promise<bigint> => {
    const line = await dockerOk(['run', '--rm', ...flags, 'busybox', 'grep', 'CapEff', '/proc/self/status']);
    return BigInt(`0x${line.split(/\s+/)[1]}`);
  };
  const CAP_SYS_ADMIN = 1n << 21n;
  assert.equal((await capEff()) & CAP_SYS_ADMIN, 0n);
  assert.equal((await capEff('--privileged')) & CAP_SYS_ADMIN, CAP_SYS_ADMIN);
});

test('limits and init: --memory, --pids-limit, --init', async () => {
  assert.equal(await dockerOk(['run', '--rm', '--memory', '32m', 'busybox', 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes']), '33554432\n');
  assert.equal(await dockerOk(['run', '--rm', '--pids-limit', '50', 'busybox', 'cat', '/sys/fs/cgroup/pids/pids.max']), '50\n');
  assert.equal(await dockerOk(['run', '--rm', 'busybox', 'cat', '/proc/1/comm']), 'cat\n');
  // Like Docker, the init binary (catatonit or tini here) is bound at /sbin/docker-init and runs as PID 1.
  assert.equal(await dockerOk(['run', '--rm', '--init', 'busybox', 'cat', '/proc/1/comm']), 'docker-init\n');
  const version = await dockerOk(['run', '--rm', '--init', 'busybox', '/sbin/docker-init', '--version']);
  assert.match(version, /catatonit|tini/);
  await dockerOk(['create', '--init', '--name', 'with-init', 'busybox']);
  assert.equal(await inspect('with-init', '{{.HostConfig.Init}}'), 'true');
  await dockerOk(['rm', 'with-init']);
});

test('--runtime runc runs a container too', async () => {
  assert.deepEqual(await docker(['run', '--rm', '--runtime', 'runc', 'busybox', 'echo', 'hi']), { code: 0, stdout: 'hi\n', stderr: '' });
  assert.equal((await docker(['run', '--rm', '--runtime', 'runc', 'busybox', 'sh', '-c', 'exit 4'])).code, 4);
});

test('a container keeps running and logging while berthd is down, and the next berthd takes it over', async () => {
  const script = [
    'trap "exit 9" TERM',
    'echo before',
    'while [ ! -f /data/go ]; do sleep 0.05; done',
    'echo while-down',
    'touch /data/logged',
    'while true; do sleep 0.05; done',
  ].join('; ');
  const id = (await dockerOk(['run', '-d', '--name', 'survivor', '-v', `${hostDir}:/data`, 'busybox', 'sh', '-c', script])).trim();
  // Two more that finish while berthd is down: one keeps its exit code, the --rm one must be removed afterwards.
  const exitsLater = 'while [ ! -f /data/go ]; do sleep 0.05; done; exit 3';
  const quitters = [
    await dockerOk(['run', '-d', '--name', 'quitter', '-v', `${hostDir}:/data`, 'busybox', 'sh', '-c', exitsLater]),
    await dockerOk(['run', '-d', '--rm', '--name', 'quitter-rm', '-v', `${hostDir}:/data`, 'busybox', 'sh', '-c', exitsLater]),
  ].map((out) => out.trim());
  for (let i = 0; i < 100 && !(await dockerOk(['logs', 'survivor'])).includes('before'); i++) await sleep(50);

  const first = daemon;
  await first.kill9();
  killedDaemon = first;
  await writeFile(join(hostDir, 'go'), '');
  // The container only gets here if it still runs with berthd gone.
  await waitForFile(join(hostDir, 'logged'));
  // conmon records each exit in the exit dir; once both are there, they really ended while no daemon ran.
  for (const q of quitters) await waitForFile(join(first.execRoot, 'exits', q));

  // What a crash between a create's record and its files leaves: directories of a container nobody knows.
  const orphan = 'f'.repeat(64);
  await mkdir(join(first.dataRoot, 'containers', orphan, 'upper'), { recursive: true });
  await mkdir(join(first.execRoot, 'containers', orphan, 'rootfs'), { recursive: true });

  daemon = await startDaemon({ dataRoot: first.dataRoot, execRoot: first.execRoot });
  assert.equal(existsSync(join(first.dataRoot, 'containers', orphan)), false, 'orphan data dir removed at start-up');
  assert.equal(existsSync(join(first.execRoot, 'containers', orphan)), false, 'orphan bundle removed at start-up');
  assert.equal(await dockerOk(['ps', '--format', '{{.ID}} {{.Names}} {{.Status}}']).then((s) => s.split(' ').slice(0, 3).join(' ')), `${id.slice(0, 12)} survivor Up`);
  assert.equal(await inspect('survivor', '{{.State.Status}} {{.State.Running}}'), 'running true');
  assert.equal(await dockerOk(['logs', 'survivor']), 'before\nwhile-down\n');
  assert.deepEqual(await docker(['exec', 'survivor', 'sh', '-c', 'echo adopted; exit 2']), { code: 2, stdout: 'adopted\n', stderr: '' });
  assert.equal(await dockerOk(['wait', 'quitter']), '3\n');
  assert.equal(await inspect('quitter', '{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}'), 'exited 3 false');
  assert.equal(await dockerOk(['ps', '-a', '--filter', 'name=quitter-rm', '--format', '{{.Names}}']), '', '--rm honoured for an exit while down');

  const waiting = docker(['wait', 'survivor']);
  await dockerOk(['stop', '-t', '5', 'survivor']);
  assert.equal((await waiting).stdout, '9\n');
  assert.equal(await inspect('survivor', '{{.State.Status}} {{.State.ExitCode}}'), 'exited 9');
  await dockerOk(['rm', 'survivor', 'quitter']);
});

test('with every container removed, no mounts or runtime state are left behind', async () => {
  const left = (await dockerOk(['ps', '-aq'])).trim();
  if (left !== '') await dockerOk(['rm', '-f', ...left.split('\n')]);
  assert.equal(await dockerOk(['ps', '-a', '--format', '{{.Names}}']), '');
  for (const dir of [daemon.dataRoot, daemon.execRoot]) assert.deepEqual(await mountsBelow(dir), [], dir);
  for (const rt of ['crun', 'runc']) {
    const state = await readdir(join(daemon.execRoot, 'runtime', rt)).catch(() => []);
    assert.deepEqual(state, [], `${rt} state`);
  }
  assert.deepEqual(await readdir(join(daemon.execRoot, 'containers')), []);
  // The runtimes agree: they know no container.
  for (const rt of ['crun', 'runc']) {
    const listed = spawnSync(rt, [`--root=${join(daemon.execRoot, 'runtime', rt)}`, 'list', '-q'], { encoding: 'utf8' });
    assert.equal(listed.status, 0, listed.stderr);
    assert.equal(listed.stdout.trim(), '', `${rt} list`);
  }
});
