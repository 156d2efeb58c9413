import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { importBusybox } from '../support/busybox-image.js';
import { runCli, startDaemon, type TestDaemon } from '../support/berthd.js';

let daemon: TestDaemon;
const created: string[] = [];
/** Also the name of a tmux server of our own (-L), apart from any other tmux user on the machine. */
const tmuxSession = `berth-logs-test-${process.pid}`;
const exitFile = `/tmp/berth-logs-test-${process.pid}.exit`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A fresh tmux session (on our own server) running `cmd`; retried, since a server just told to go may still be going. */
async function tmuxSessionRunning(cmd: string): Promise<void> {
  let last = '';
  for (let attempt = 0; attempt < 10; attempt++) {
    spawnSync('tmux', ['-L', tmuxSession, 'kill-server']);
    const r = spawnSync('tmux', ['-L', tmuxSession, 'new-session', '-d', '-s', tmuxSession, '-x', '100', '-y', '30', cmd]);
    if (r.status === 0) return;
    last = `${r.status} ${r.stdout.toString()} ${r.stderr.toString()} ${String(r.error ?? '')}`;
    await sleep(200);
  }
  assert.fail(`tmux new-session: ${last}`);
}

before(async () => {
  daemon = await startDaemon();
  await importBusybox(daemon);
});

after(async () => {
  spawnSync('tmux', ['-L', tmuxSession, 'kill-server']);
  await rm(exitFile, { force: true });
  if (created.length > 0) await runCli('docker', ['rm', '-f', ...created], daemon);
  await daemon?.stop();
});

async function docker(args: string[]): Promise<string> {
  const r = await runCli('docker', args, daemon);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function run(name: string, args: string[]): Promise<string> {
  created.push(name);
  return (await docker(['run', '-d', '--name', name, ...args])).trim();
}

async function logFilesOf(id: string): Promise<string[]> {
  return (await readdir(join(daemon.dataRoot, 'containers', id))).filter((f) => f.startsWith('ctr.log') && f !== 'ctr.log.live').sort();
}

/** Numbered lines "line <n> ..." written by the containers below; checks each is whole and returns the numbers. */
function lineNumbers(out: string, pad: string): number[] {
  const lines = out.split('\n');
  assert.equal(lines.pop(), '', 'output ends with a newline');
  return lines.map((l) => {
    const m = /^line (\d+) (x*)$/.exec(l);
    assert.ok(m && m[2] === pad, `a whole line: ${JSON.stringify(l)}`);
    return Number(m[1]);
  });
}

function assertConsecutive(ns: number[], last: number): void {
  assert.ok(ns.length > 0);
  assert.equal(ns[ns.length - 1], last);
  for (let i = 1; i < ns.length; i++) assert.equal(ns[i], ns[i - 1] + 1, `line ${ns[i - 1]} is followed by ${ns[i]}`);
}

const PAD = 'x'.repeat(50);

test('LogConfig: json-file by default, the driver and options given, Docker errors for bad ones', async () => {
  await run('lc-default', ['busybox', 'true']);
  assert.equal((await docker(['inspect', '-f', '{{json .HostConfig.LogConfig}}', 'lc-default'])).trim(), '{"Type":"json-file","Config":{}}');
  await run('lc-local', ['--log-driver', 'local', '--log-opt', 'max-size=1m', 'busybox', 'true']);
  assert.equal((await docker(['inspect', '-f', '{{json .HostConfig.LogConfig}}', 'lc-local'])).trim(), '{"Type":"local","Config":{"max-size":"1m"}}');

  const unknown = await runCli('docker', ['create', '--log-driver', 'nosuch', 'busybox', 'true'], daemon);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /error looking up logging plugin nosuch: plugin "nosuch" not found/);
  const badOpt = await runCli('docker', ['create', '--log-opt', 'colour=red', 'busybox', 'true'], daemon);
  assert.equal(badOpt.code, 1);
  assert.match(badOpt.stderr, /unknown log opt 'colour' for json-file log driver/);
  // As in dockerd, sizes and counts are checked when the log is opened, at start.
  created.push('lc-badfile');
  const badFile = await runCli('docker', ['run', '--name', 'lc-badfile', '--log-opt', 'max-size=1k', '--log-opt', 'max-file=0', 'busybox', 'true'], daemon);
  assert.notEqual(badFile.code, 0);
  assert.match(badFile.stderr, /max-file cannot be less than 1/);
});

test('--log-driver none: attach still works, no log file, docker logs refuses', async () => {
  created.push('none');
  const attached = await runCli('docker', ['run', '--name', 'none', '--log-driver', 'none', 'busybox', 'echo', 'hi there'], daemon);
  assert.equal(attached.code, 0, attached.stderr);
  assert.equal(attached.stdout, 'hi there\n');
  const id = (await docker(['inspect', '-f', '{{.Id}}', 'none'])).trim();
  assert.deepEqual(await logFilesOf(id), []);
  const logs = await runCli('docker', ['logs', 'none'], daemon);
  assert.equal(logs.code, 1);
  assert.match(logs.stderr, /configured logging driver does not support reading/);
});

test('max-size=10k max-file=3: at most 3 files, the newest lines whole and in order, --tail across files', async () => {
  // ~175 KB of records in bursts of 50 lines (under max-size each), so berthd rotates between bursts.
  const script = `i=0; while [ $i -lt 1500 ]; do echo "line $i ${PAD}"; i=$((i+1)); [ $((i % 50)) = 0 ] && usleep 20000; done; true`;
  const id = await run('rot', ['--log-opt', 'max-size=10k', '--log-opt', 'max-file=3', 'busybox', 'sh', '-c', script]);
  assert.equal((await docker(['wait', 'rot'])).trim(), '0');
  const files = await logFilesOf(id);
  assert.ok(files.length <= 3 && files.includes('ctr.log.1'), `rotated files: ${files.join(' ')}`);
  for (const f of files) {
    const text = await readFile(join(daemon.dataRoot, 'containers', id, f), 'utf8');
    assert.ok(text === '' || text.endsWith('\n'), `${f} ends with a whole record: ${JSON.stringify(text.slice(-120))}`);
  }

  const all = lineNumbers(await docker(['logs', 'rot']), PAD);
  assertConsecutive(all, 1499);
  const viaBerth = await runCli('berth', ['logs', 'rot'], daemon);
  assert.equal(viaBerth.code, 0, viaBerth.stderr);
  assert.deepEqual(lineNumbers(viaBerth.stdout, PAD), all);
  assert.ok(all.length < 1500, 'the oldest lines were rotated away');

  assert.deepEqual(lineNumbers(await docker(['logs', '--tail', '3', 'rot']), PAD), [1497, 1498, 1499]);
  // More lines than the current file holds: the rest come from the rotated files.
  const current = (await readFile(join(daemon.dataRoot, 'containers', id, 'ctr.log'), 'utf8').catch(() => '')).split('\n').length - 1;
  const n = Math.min(all.length, current + 20);
  const tailed = lineNumbers(await docker(['logs', '--tail', String(n), 'rot']), PAD);
  assert.equal(tailed.length, n);
  assertConsecutive(tailed, 1499);
});

test('logs -f follows across rotations until the container exits', async () => {
  const script = `i=0; while [ $i -lt 400 ]; do echo "line $i ${PAD}"; i=$((i+1)); usleep 4000; done`;
  // max-file 2 puts conmon's own limit (which replaces the file) at 12k, so it fires too, several times.
  const id = await run('follow', ['--log-opt', 'max-size=4k', '--log-opt', 'max-file=2', 'busybox', 'sh', '-c', script]);
  const followed = await runCli('docker', ['logs', '-f', 'follow'], daemon);
  assert.equal(followed.code, 0, followed.stderr);
  const kept = lineNumbers(await docker(['logs', 'follow']), PAD);
  assertConsecutive(kept, 399);
  const ns = lineNumbers(followed.stdout, PAD);
  assertConsecutive(ns, 399);
  assert.equal(ns[0], 0, 'followed from the first line');
  assert.ok((await logFilesOf(id)).includes('ctr.log.1'), 'the log was rotated while followed');
});

test('detach keys: ctrl-p ctrl-q leaves docker run -it with 0 and the container running; bad keys are refused', async () => {
  created.push('dk');
  await rm(exitFile, { force: true });
  const cmd = `DOCKER_HOST=${daemon.host} docker run -it --name dk busybox sh; echo $? > ${exitFile}; sleep 30`;
  await tmuxSessionRunning(cmd);
  const pane = (): string => spawnSync('tmux', ['-L', tmuxSession, 'capture-pane', '-p', '-t', tmuxSession]).stdout.toString();
  for (let i = 0; i < 100 && !pane().includes('/ #'); i++) await sleep(100);
  assert.match(pane(), /\/ #/);
  // One key per write, as a person types them.
  spawnSync('tmux', ['-L', tmuxSession, 'send-keys', '-t', tmuxSession, 'C-p']);
  await sleep(150);
  spawnSync('tmux', ['-L', tmuxSession, 'send-keys', '-t', tmuxSession, 'C-q']);
  for (let i = 0; i < 100 && !existsSync(exitFile); i++) await sleep(100);
  assert.equal((await readFile(exitFile, 'utf8')).trim(), '0');
  assert.equal((await docker(['inspect', '-f', '{{.State.Running}}', 'dk'])).trim(), 'true');

  // Keys of one's own choosing reach the daemon as ?detachKeys=; the default ones then pass through to the shell.
  await rm(exitFile, { force: true });
  await tmuxSessionRunning(`DOCKER_HOST=${daemon.host} docker attach --detach-keys ctrl-x,y dk; echo $? > ${exitFile}; sleep 30`);
  // Enter until the shell answers with a prompt: then the attachment is up.
  for (let i = 0; i < 50 && !pane().includes('/ #'); i++) {
    spawnSync('tmux', ['-L', tmuxSession, 'send-keys', '-t', tmuxSession, 'Enter']);
    await sleep(200);
  }
  // ash asks the terminal where the cursor is after a redraw and takes what is typed meanwhile as the answer.
  await sleep(1000);
  for (const key of ['e', 'c', 'h', 'o', 'Space', 'm', 'a', 'r', 'k', 'Enter', 'C-x']) {
    spawnSync('tmux', ['-L', tmuxSession, 'send-keys', '-t', tmuxSession, key]);
    await sleep(30);
  }
  await sleep(150);
  spawnSync('tmux', ['-L', tmuxSession, 'send-keys', '-t', tmuxSession, 'y']);
  for (let i = 0; i < 100 && !existsSync(exitFile); i++) await sleep(100);
  // As with dockerd: docker attach reports the detach as an error (exit 1), docker run -it does not.
  assert.equal((await readFile(exitFile, 'utf8')).trim(), '1', pane());
  assert.match(pane(), /echo mark\s+mark\s+\/ # read escape sequence/);
  assert.equal((await docker(['inspect', '-f', '{{.State.Running}}', 'dk'])).trim(), 'true');

  // exec -it: the same keys end the exec's attachment and leave its process running.
  await rm(exitFile, { force: true });
  await tmuxSessionRunning(`DOCKER_HOST=${daemon.host} docker exec -it dk cat; echo $? > ${exitFile}; sleep 30`);
  for (let i = 0; i < 50 && !(await docker(['exec', 'dk', 'ps'])).includes('cat'); i++) await sleep(100);
  spawnSync('tmux', ['-L', tmuxSession, 'send-keys', '-t', tmuxSession, 'C-p']);
  await sleep(150);
  spawnSync('tmux', ['-L', tmuxSession, 'send-keys', '-t', tmuxSession, 'C-q']);
  for (let i = 0; i < 100 && !existsSync(exitFile); i++) await sleep(100);
  assert.ok(existsSync(exitFile), `docker exec ended: ${pane()}`);
  assert.match(await docker(['exec', 'dk', 'ps']), /\bcat\b/);

  const status = await new Promise<{ code: number; body: string }>((resolve, reject) => {
    const req = http.request({ socketPath: daemon.socket, method: 'POST', path: '/containers/dk/attach?stream=1&stdin=1&detachKeys=ctrl-1' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(status.code, 400);
  assert.match(status.body, /Invalid detach keys \(ctrl-1\) provided/);
});

