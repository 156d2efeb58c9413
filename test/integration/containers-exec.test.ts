import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import Docker from 'dockerode';
import { importBusybox } from '../support/busybox-image.js';
import { runCli, startDaemon, type TestDaemon } from '../support/berthd.js';

let daemon: TestDaemon;

before(async () => {
  daemon = await startDaemon();
  await importBusybox(daemon);
  const run = await runCli('docker', ['run', '-d', '--name', 'ex', 'busybox', 'sleep', '300'], daemon);
  assert.equal(run.code, 0, run.stderr);
});

after(async () => {
  await runCli('docker', ['rm', '-f', 'ex'], daemon);
  await daemon?.stop();
});

test('docker exec returns the output and the exit code of the command', async () => {
  const hi = await runCli('docker', ['exec', 'ex', 'echo', 'hi'], daemon);
  assert.equal(hi.code, 0, hi.stderr);
  assert.equal(hi.stdout, 'hi\n');
  const failing = await runCli('docker', ['exec', 'ex', 'sh', '-c', 'echo oops >&2; exit 4'], daemon);
  assert.equal(failing.code, 4);
  assert.equal(failing.stderr, 'oops\n');
  assert.equal(failing.stdout, '');
});

test('docker exec -i feeds stdin; -u, -w and -e apply', async () => {
  const cat = await runCli('docker', ['exec', '-i', 'ex', 'cat'], daemon, { input: 'piped\n' });
  assert.equal(cat.code, 0, cat.stderr);
  assert.equal(cat.stdout, 'piped\n');
  const who = await runCli('docker', ['exec', '-u', 'nobody', '-w', '/tmp', '-e', 'X=y', 'ex', 'sh', '-c', 'id -u; pwd; echo $X'], daemon);
  assert.equal(who.stdout, '65534\n/tmp\ny\n');
});

test('attached exec gives the process real pipes: /dev/stdout and /dev/stderr open, stdin reaches EOF', async () => {
  const r = await runCli('docker', ['exec', '-i', 'ex', 'sh', '-c', 'cat > /tmp/in; echo o > /dev/stdout; echo e > /dev/stderr; wc -c < /tmp/in'], daemon, { input: 'abc\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'o\n4\n');
  assert.equal(r.stderr, 'e\n');
  // Without -i the process reads an empty stdin rather than waiting forever.
  const noStdin = await runCli('docker', ['exec', 'ex', 'sh', '-c', 'cat; echo done'], daemon, { input: 'ignored\n' });
  assert.equal(noStdin.stdout, 'done\n');
});

test('an attached exec ends with its process even when a background child keeps the output open', { timeout: 30_000 }, async () => {
  const r = await runCli('docker', ['exec', 'ex', 'sh', '-c', 'sleep 120 & echo started'], daemon);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'started\n');
});

test('an attached exec reports pid, exit code and events; a bad working directory exits 127', async () => {
  const docker = new Docker({ socketPath: daemon.socket });
  const since = Math.floor(Date.now() / 1000) - 1;
  const exec = await docker.getContainer('ex').exec({ Cmd: ['sh', '-c', 'echo $$; exit 5'], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise((r) => stream.on('data', (d: Buffer) => chunks.push(d)).on('end', r));
  const info = await exec.inspect();
  assert.equal(info.ExitCode, 5);
  assert.equal(info.Running, false);
  assert.ok(info.Pid > 0, `pid ${info.Pid}`);
  // The first frame is stdout (stream 1) with the shell's pid inside the container.
  assert.equal(Buffer.concat(chunks)[0], 1);
  const events = await runCli('docker', ['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000) + 1),
    '--filter', 'container=ex', '--format', '{{.Action}}'], daemon);
  const actions = events.stdout.split('\n');
  assert.ok(actions.some((a) => a.startsWith('exec_start: sh -c echo $$; exit 5')), events.stdout);
  assert.ok(actions.includes('exec_die'), events.stdout);
  const badDir = await runCli('docker', ['exec', '-w', '/no/such/dir', 'ex', 'true'], daemon);
  assert.equal(badDir.code, 127);
});

test('a missing command exits 127; exec in a stopped container is refused', async () => {
  const missing = await runCli('docker', ['exec', 'ex', 'nosuchcmd'], daemon);
  assert.equal(missing.code, 127);
  assert.equal((await runCli('docker', ['run', '-d', '--name', 'gone', 'busybox', 'true'], daemon)).code, 0);
  assert.equal((await runCli('docker', ['wait', 'gone'], daemon)).stdout.trim(), '0');
  const stopped = await runCli('docker', ['exec', 'gone', 'true'], daemon);
  assert.notEqual(stopped.code, 0);
  assert.match(stopped.stderr, /is not running/);
  await runCli('docker', ['rm', 'gone'], daemon);
});

test('docker exec -d runs in the background and exec inspect reports the exit code', async () => {
  const d = await runCli('docker', ['exec', '-d', 'ex', 'sh', '-c', 'echo bg > /tmp/bg'], daemon);
  assert.equal(d.code, 0, d.stderr);
  for (let i = 0; i < 50; i++) {
    const r = await runCli('docker', ['exec', 'ex', 'cat', '/tmp/bg'], daemon);
    if (r.code === 0) {
      assert.equal(r.stdout, 'bg\n');
      return;
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.fail('the detached exec never wrote its file');
});

test('parallel creates without a name all succeed with distinct generated names', async () => {
  const results = await Promise.all(Array.from({ length: 30 }, () => runCli('docker', ['create', 'busybox', 'true'], daemon)));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const ids = results.map((r) => r.stdout.trim());
  const names = await runCli('docker', ['inspect', '--format', '{{.Name}}', ...ids], daemon);
  const list = names.stdout.trim().split('\n');
  assert.equal(new Set(list).size, 30);
  for (const n of list) assert.match(n, /^\/[a-z]+_[a-z]+\d*$/);
  assert.equal((await runCli('docker', ['rm', ...ids], daemon)).code, 0);
});

test('pause and unpause freeze the container; top lists its processes; prune removes stopped containers', async () => {
  assert.equal((await runCli('docker', ['pause', 'ex'], daemon)).code, 0);
  const paused = await runCli('docker', ['inspect', '--format', '{{.State.Status}} {{.State.Paused}}', 'ex'], daemon);
  assert.equal(paused.stdout.trim(), 'paused true');
  const again = await runCli('docker', ['pause', 'ex'], daemon);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /already paused/);
  assert.equal((await runCli('docker', ['unpause', 'ex'], daemon)).code, 0);
  assert.equal((await runCli('docker', ['inspect', '--format', '{{.State.Status}}', 'ex'], daemon)).stdout.trim(), 'running');

  const top = await runCli('docker', ['top', 'ex'], daemon);
  assert.equal(top.code, 0, top.stderr);
  assert.match(top.stdout, /PID/);
  assert.match(top.stdout, /sleep 300/);

  assert.equal((await runCli('docker', ['run', '--name', 'done1', 'busybox', 'true'], daemon)).code, 0);
  const pruned = await runCli('docker', ['container', 'prune', '-f'], daemon);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.match(pruned.stdout, /Deleted Containers:/);
  const left = await runCli('docker', ['ps', '-a', '--format', '{{.Names}}'], daemon);
  assert.deepEqual(left.stdout.trim().split('\n'), ['ex']);
});

test('restart policies: on-failure retries up to its limit; always restarts until stopped', async () => {
  const inspect = async (name: string, fmt: string): Promise<string> =>
    (await runCli('docker', ['inspect', '--format', fmt, name], daemon)).stdout.trim();
  assert.equal((await runCli('docker', ['run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'exit 3'], daemon)).code, 0);
  let state = '';
  for (let i = 0; i < 60; i++) {
    state = await inspect('flaky', '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}');
    if (state === '2 exited 3') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(state, '2 exited 3');

  assert.equal((await runCli('docker', ['run', '-d', '--name', 'loop', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.2'], daemon)).code, 0);
  let count = 0;
  for (let i = 0; i < 60 && count < 2; i++) {
    count = Number(await inspect('loop', '{{.RestartCount}}'));
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(count >= 2, `restarted ${count} times`);
  assert.equal((await runCli('docker', ['stop', '-t', '1', 'loop'], daemon)).code, 0);
  const stoppedAt = Number(await inspect('loop', '{{.RestartCount}}'));
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(Number(await inspect('loop', '{{.RestartCount}}')), stoppedAt);
  assert.notEqual(await inspect('loop', '{{.State.Status}}'), 'running');
  await runCli('docker', ['rm', '-f', 'flaky', 'loop'], daemon);
});

test('docker stats --no-stream reads the container cgroup: memory limit and pids', async () => {
  assert.equal((await runCli('docker', ['run', '-d', '--name', 'st', '-m', '64m', 'busybox', 'sleep', '300'], daemon)).code, 0);
  const r = await runCli('docker', ['stats', '--no-stream', '--format', '{{.Name}}|{{.MemUsage}}|{{.PIDs}}', 'st'], daemon);
  assert.equal(r.code, 0, r.stderr);
  const [name, mem, pids] = r.stdout.trim().split('|');
  assert.equal(name, 'st');
  assert.match(mem, /\/ 64MiB$/);
  assert.equal(pids, '1');
  await runCli('docker', ['rm', '-f', 'st'], daemon);
});

test('docker diff lists what the container changed; docker export streams its filesystem', async () => {
  const run = await runCli('docker', ['run', '--name', 'df', 'busybox', 'sh', '-c', 'touch /tmp/new; mkdir -p /data/x; rm /bin/vi; echo hi >> /etc/passwd'], daemon);
  assert.equal(run.code, 0, run.stderr);
  const diff = await runCli('docker', ['diff', 'df'], daemon);
  assert.equal(diff.code, 0, diff.stderr);
  assert.deepEqual(diff.stdout.trim().split('\n'), [
    'C /bin', 'D /bin/vi', 'A /data', 'A /data/x', 'C /etc', 'C /etc/passwd', 'C /tmp', 'A /tmp/new',
  ]);
  const exported = spawnSync('docker', ['export', 'df'], { env: daemon.env, maxBuffer: 64 << 20 });
  assert.equal(exported.status, 0);
  const names = spawnSync('tar', ['-t'], { input: exported.stdout, maxBuffer: 64 << 20 }).stdout.toString().split('\n');
  assert.ok(names.includes('tmp/new'));
  assert.ok(names.includes('bin/busybox'));
  assert.ok(!names.includes('bin/vi'));
  await runCli('docker', ['rm', 'df'], daemon);
});

test('docker update changes the limits of a running container live', async () => {
  assert.equal((await runCli('docker', ['run', '-d', '--name', 'up', '-m', '64m', 'busybox', 'sleep', '300'], daemon)).code, 0);
  const updated = await runCli('docker', ['update', '--memory', '96m', '--memory-swap', '192m', '--pids-limit', '40', 'up'], daemon);
  assert.equal(updated.code, 0, updated.stderr);
  const inspect = await runCli('docker', ['inspect', '--format', '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}', 'up'], daemon);
  assert.equal(inspect.stdout.trim(), `${96 * 1024 * 1024} 40`);
  const v2 = (await runCli('docker', ['exec', 'up', 'test', '-f', '/sys/fs/cgroup/cgroup.controllers'], daemon)).code === 0;
  const memFile = v2 ? '/sys/fs/cgroup/memory.max' : '/sys/fs/cgroup/memory/memory.limit_in_bytes';
  const pidsFile = v2 ? '/sys/fs/cgroup/pids.max' : '/sys/fs/cgroup/pids/pids.max';
  assert.equal((await runCli('docker', ['exec', 'up', 'cat', memFile], daemon)).stdout.trim(), String(96 * 1024 * 1024));
  assert.equal((await runCli('docker', ['exec', 'up', 'cat', pidsFile], daemon)).stdout.trim(), '40');
  await runCli('docker', ['rm', '-f', 'up'], daemon);
});

test('docker cp copies into and out of running and stopped containers, and never outside the root', async () => {
  const { mkdtemp, writeFile, readFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const local = await mkdtemp(join(tmpdir(), 'berth-cp-'));
  try {
    await writeFile(join(local, 'f.txt'), 'hello\n');
    assert.equal((await runCli('docker', ['cp', join(local, 'f.txt'), 'ex:/tmp/'], daemon)).code, 0);
    assert.equal((await runCli('docker', ['exec', 'ex', 'cat', '/tmp/f.txt'], daemon)).stdout, 'hello\n');
    assert.equal((await runCli('docker', ['cp', 'ex:/etc/passwd', join(local, 'passwd')], daemon)).code, 0);
    assert.match(await readFile(join(local, 'passwd'), 'utf8'), /^root:x:0:0:/);
    const missing = await runCli('docker', ['cp', 'ex:/nope', join(local, 'x')], daemon);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /Could not find the file \/nope in container ex/);

    assert.equal((await runCli('docker', ['create', '--name', 'cold', 'busybox', 'true'], daemon)).code, 0);
    assert.equal((await runCli('docker', ['cp', join(local, 'f.txt'), 'cold:/root/'], daemon)).code, 0);
    const back = spawnSync('docker', ['cp', 'cold:/root/f.txt', '-'], { env: daemon.env });
    assert.equal(back.status, 0);
    assert.match(spawnSync('tar', ['-t'], { input: back.stdout }).stdout.toString(), /^f\.txt$/m);

    // A tar whose entry climbs out of the destination is refused whole.
    const evil = spawnSync('tar', ['-c', '-P', '--transform', 's,^.*f.txt,../../../../escape-berth-cp,', '-C', local, 'f.txt']);
    const put = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', daemon.socket, '-X', 'PUT',
      '-H', 'Content-Type: application/x-tar', '--data-binary', '@-', 'http://x/containers/ex/archive?path=/tmp'], { input: evil.stdout });
    assert.equal(put.stdout.toString(), '400');
    assert.equal(spawnSync('test', ['-e', '/escape-berth-cp']).status, 1);
    await runCli('docker', ['rm', 'cold'], daemon);
  } finally {
    await rm(local, { recursive: true, force: true });
  }
});

test('HEALTHCHECK: a passing probe makes the container healthy, a failing one unhealthy after the retries', async () => {
  const inspect = async (name: string): Promise<string> =>
    (await runCli('docker', ['inspect', '--format', '{{.State.Health.Status}} {{.State.Health.FailingStreak}}', name], daemon)).stdout.trim();
  const good = await runCli('docker', ['run', '-d', '--name', 'hgood', '--health-cmd', 'test -e /etc/passwd', '--health-interval', '200ms', 'busybox', 'sleep', '300'], daemon);
  assert.equal(good.code, 0, good.stderr);
  const bad = await runCli('docker', ['run', '-d', '--name', 'hbad', '--health-cmd', 'echo nope; exit 1', '--health-interval', '200ms', '--health-retries', '2', 'busybox', 'sleep', '300'], daemon);
  assert.equal(bad.code, 0, bad.stderr);
  let g = '';
  let b = '';
  for (let i = 0; i < 50 && (g !== 'healthy 0' || b !== 'unhealthy 2'); i++) {
    await new Promise((r) => setTimeout(r, 200));
    [g, b] = await Promise.all([inspect('hgood'), inspect('hbad')]);
  }
  assert.equal(g, 'healthy 0');
  assert.match(b, /^unhealthy [2-9]/);
  const log = await runCli('docker', ['inspect', '--format', '{{(index .State.Health.Log 0).Output}}', 'hbad'], daemon);
  assert.equal(log.stdout.trim(), 'nope');
  const ps = await runCli('docker', ['ps', '--filter', 'name=hgood', '--format', '{{.Status}}'], daemon);
  assert.match(ps.stdout, /^Up .*\(healthy\)$/m);
  await runCli('docker', ['rm', '-f', 'hgood', 'hbad'], daemon);
});

test('docker commit turns the container changes (additions and deletions) into a new image layer', async () => {
  const made = await runCli('docker', ['run', '--name', 'cm', 'busybox', 'sh', '-c', 'echo committed > /made.txt; rm /bin/vi'], daemon);
  assert.equal(made.code, 0, made.stderr);
  const commit = await runCli('docker', ['commit', '-c', 'CMD ["cat", "/made.txt"]', '-m', 'my change', 'cm', 'committed:v1'], daemon);
  assert.equal(commit.code, 0, commit.stderr);
  assert.match(commit.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
  const run = await runCli('docker', ['run', '--rm', 'committed:v1'], daemon);
  assert.equal(run.stdout, 'committed\n');
  const vi = await runCli('docker', ['run', '--rm', 'committed:v1', 'test', '-e', '/bin/vi'], daemon);
  assert.equal(vi.code, 1);
  const layers = await runCli('docker', ['inspect', '--format', '{{len .RootFS.Layers}}', 'committed:v1'], daemon);
  assert.equal(layers.stdout.trim(), '2');
  const history = await runCli('docker', ['history', '--format', '{{.Comment}}', 'committed:v1'], daemon);
  assert.equal(history.stdout.split('\n')[0], 'my change');
  await runCli('docker', ['rm', 'cm'], daemon);
  assert.equal((await runCli('docker', ['rmi', 'committed:v1'], daemon)).code, 0);
});
