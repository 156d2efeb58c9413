/**
 * Interactive sessions as a user types them: `docker run -it` and `docker exec -it` (and berth's own
 * `run -it`) in a real terminal (tmux), with the shell's output, window size and exit code checked,
 * and the container verbs through dockerode.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Docker from 'dockerode';
import { importBusybox } from '../support/busybox-image.js';
import { BERTH_BIN, runCli, startDaemon, type TestDaemon } from '../support/berthd.js';
import { TmuxSession } from '../support/tmux.js';

let daemon: TestDaemon;
let dir: string;
let tmuxSocket: string;

before(async () => {
  daemon = await startDaemon();
  dir = await mkdtemp(join(tmpdir(), 'berth-interactive-'));
  tmuxSocket = join(dir, 'tmux.sock');
  await importBusybox(daemon);
});

after(async () => {
  await TmuxSession.killServer(tmuxSocket);
  await runCli('docker', ['rm', '-f', 'it-run', 'it-exec', 'it-berth', 'ode'], daemon);
  await daemon?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const env = (): Record<string, string> => ({ DOCKER_HOST: daemon.host, PS1: '$ ' });

test('docker run -it gives a working shell: output, window size, resize, exit code', async () => {
  const t = await TmuxSession.start(tmuxSocket, 'run', 'docker run -it --name it-run busybox sh', env(), { cols: 100, rows: 30 });
  try {
    await t.waitFor(/[#$] ?$/m);
    await t.sendText('echo $((6*7)); stty size');
    await t.send('Enter');
    await t.waitFor(/^42\s*$/m);
    await t.waitFor(/^30 100\s*$/m);
    await t.resize(90, 25);
    await t.sendText('stty size');
    await t.send('Enter');
    await t.waitFor(/^25 90\s*$/m);
    await t.sendText('exit 3');
    await t.send('Enter');
    assert.equal(await t.waitForExit(), 3);
  } finally {
    await t.kill();
  }
  const state = await runCli('docker', ['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', 'it-run'], daemon);
  assert.equal(state.stdout.trim(), 'exited 3');
});

test('docker exec -it runs an interactive shell in a running container', async () => {
  const started = await runCli('docker', ['run', '-d', '--name', 'it-exec', 'busybox', 'sleep', '300'], daemon);
  assert.equal(started.code, 0, started.stderr);
  const t = await TmuxSession.start(tmuxSocket, 'exec', 'docker exec -it it-exec sh', env(), { cols: 80, rows: 24 });
  try {
    await t.waitFor(/[#$] ?$/m);
    await t.sendText('tty; stty size; echo pid1=$(cat /proc/1/comm)');
    await t.send('Enter');
    await t.waitFor(/^\/dev\/pts\/\d+\s*$/m);
    await t.waitFor(/^24 80\s*$/m);
    await t.waitFor(/^pid1=sleep\s*$/m);
    await t.sendText('exit 4');
    await t.send('Enter');
    assert.equal(await t.waitForExit(), 4);
  } finally {
    await t.kill();
  }
  const running = await runCli('docker', ['inspect', '--format', '{{.State.Running}}', 'it-exec'], daemon);
  assert.equal(running.stdout.trim(), 'true', 'the container outlives the exec session');
});

test('berth run -it gives a working shell too', async () => {
  const t = await TmuxSession.start(tmuxSocket, 'berth', `${process.execPath} ${BERTH_BIN} run -it --name it-berth busybox sh`, env());
  try {
    await t.waitFor(/[#$] ?$/m);
    await t.sendText('echo berth-$((1+1))');
    await t.send('Enter');
    await t.waitFor(/^berth-2\s*$/m);
    await t.sendText('exit 5');
    await t.send('Enter');
    assert.equal(await t.waitForExit(), 5);
  } finally {
    await t.kill();
  }
});

test('dockerode: create, attach, start, wait, logs, exec, inspect, remove', async () => {
  const docker = new Docker({ socketPath: daemon.socket });
  const c = await docker.createContainer({ Image: 'busybox', name: 'ode', Cmd: ['sh', '-c', 'echo out; echo err >&2; read line; echo got:$line; exit 2'], OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true });
  const stream = await c.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const sink = (into: Buffer[]): Writable => new Writable({ write(chunk: Buffer, _e, cb) { into.push(chunk); cb(); } });
  c.modem.demuxStream(stream, sink(out), sink(err));
  const waited = c.wait({ condition: 'next-exit' });
  await c.start();
  stream.write('hello\n');
  const result = (await waited) as { StatusCode: number };
  assert.equal(result.StatusCode, 2);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(Buffer.concat(out).toString(), 'out\ngot:hello\n');
  assert.equal(Buffer.concat(err).toString(), 'err\n');

  const logs = (await c.logs({ stdout: true, stderr: true, follow: false })) as Buffer;
  assert.ok(logs.includes(Buffer.from('got:hello')), 'logs hold the output');

  const info = await c.inspect();
  assert.equal(info.State.ExitCode, 2);
  assert.equal(info.Name, '/ode');

  const runner = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '300'] });
  await runner.start();
  const exec = await runner.exec({ Cmd: ['sh', '-c', 'exit 9'], AttachStdout: true, AttachStderr: true });
  const es = await exec.start({ hijack: true, stdin: false });
  await new Promise((r) => es.on('end', r).resume());
  assert.equal((await exec.inspect()).ExitCode, 9);
  await runner.remove({ force: true });
  await c.remove();
  await assert.rejects(c.inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
});
