/**
 * A daemon killed between the runtime's create and the record saying "running" (an interrupted start): at the next
 * start-up the runtime's container, its monitor and the mounted root must go, and the record stay usable.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { importBusybox } from '../support/busybox-image.js';
import { mountsBelow, runCli, startDaemon, type TestDaemon } from '../support/berthd.js';

let daemon: TestDaemon;
let killed: TestDaemon | undefined;

before(async () => {
  daemon = await startDaemon();
  await importBusybox(daemon);
});

after(async () => {
  await runCli('docker', ['rm', '-f', 'half'], daemon);
  await daemon?.stop();
  await killed?.stop();
});

test('a start interrupted by kill -9 leaves no runtime container, monitor or mount after the restart', async () => {
  const run = await runCli('docker', ['run', '-d', '--name', 'half', '--network', 'none', 'busybox', 'sleep', '300'], daemon);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  const initPid = Number((await runCli('docker', ['inspect', '--format', '{{.State.Pid}}', 'half'], daemon)).stdout.trim());
  assert.ok(initPid > 0);
  await daemon.kill9();
  killed = daemon;
  // What the record looks like when the daemon dies inside start: the runtime has the container, the row does not.
  const db = new Database(join(killed.dataRoot, 'berth.db'));
  db.prepare(`UPDATE containers SET doc = json_set(doc, '$.State.Running', json('false'), '$.State.Status', 'created', '$.State.Pid', 0) WHERE id = ?`).run(id);
  db.close();

  daemon = await startDaemon({ dataRoot: killed.dataRoot, execRoot: killed.execRoot });
  assert.equal(existsSync(join(killed.execRoot, 'runtime', 'crun', id)), false, 'the runtime state is gone');
  assert.deepEqual(await mountsBelow(join(killed.execRoot, 'containers')), [], 'the root is unmounted');
  let alive = true;
  for (let i = 0; i < 50 && alive; i++) {
    try {
      process.kill(initPid, 0);
      await new Promise((r) => setTimeout(r, 100));
    } catch {
      alive = false;
    }
  }
  assert.equal(alive, false, 'the container process is gone');
  const state = await runCli('docker', ['inspect', '--format', '{{.State.Status}}', 'half'], daemon);
  assert.equal(state.stdout.trim(), 'created');
  const again = await runCli('docker', ['start', 'half'], daemon);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((await runCli('docker', ['inspect', '--format', '{{.State.Running}}', 'half'], daemon)).stdout.trim(), 'true');
});
