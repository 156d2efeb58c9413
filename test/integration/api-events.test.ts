import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { busyboxRootfs, importBusybox } from '../support/busybox-image.js';
import { runCli, startDaemon, type TestDaemon } from '../support/berthd.js';

let daemon: TestDaemon;

before(async () => {
  daemon = await startDaemon();
});

after(async () => {
  await daemon?.stop();
});

test('docker events replays image events with --since/--until and filters them', async () => {
  const rootfs = await busyboxRootfs();
  const tar = spawnSync('tar', ['-C', rootfs, '-c', '.'], { maxBuffer: 64 << 20 });
  assert.equal(tar.status, 0);
  const imported = await runCli('docker', ['import', '-', 'evbox:1'], daemon, { input: tar.stdout });
  assert.equal(imported.code, 0, imported.stderr);
  const id = imported.stdout.trim();
  assert.match(id, /^sha256:[0-9a-f]{64}$/);
  assert.equal((await runCli('docker', ['tag', 'evbox:1', 'evbox:2'], daemon)).code, 0);
  assert.equal((await runCli('docker', ['rmi', 'evbox:2'], daemon)).code, 0);

  const all = await runCli('docker', ['events', '--since', '5m', '--until', '0s', '--format', '{{.Type}} {{.Action}} {{.Actor.ID}}'], daemon);
  assert.equal(all.code, 0, all.stderr);
  assert.deepEqual(all.stdout.trim().split('\n'), [`image import ${id}`, `image tag ${id}`, `image untag ${id}`]);

  const onlyTags = await runCli(
    'docker',
    ['events', '--since', '5m', '--until', '0s', '--filter', 'event=tag', '--format', '{{.Action}} {{.Actor.Attributes.name}}'],
    daemon,
  );
  assert.equal(onlyTags.stdout.trim(), 'tag evbox:2');
  const bad = await runCli('docker', ['events', '--since', '5m', '--until', '0s', '--filter', 'bogus=1'], daemon);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /invalid filter 'bogus'/);
});

test('a docker run --rm shows the container events Docker sends, in order, and type/event filters select them', async () => {
  await importBusybox(daemon);
  const run = await runCli('docker', ['run', '--rm', '--name', 'ev-run', '--network', 'none', 'busybox', 'true'], daemon);
  assert.equal(run.code, 0, run.stderr);
  const byName = await runCli('docker', ['events', '--since', '5m', '--until', '0s', '--filter', 'container=ev-run', '--format', '{{.Action}}'], daemon);
  assert.equal(byName.code, 0, byName.stderr);
  assert.deepEqual(byName.stdout.trim().split('\n'), ['create', 'attach', 'start', 'die', 'destroy']);
  const starts = await runCli(
    'docker',
    ['events', '--since', '5m', '--until', '0s', '--filter', 'type=container', '--filter', 'event=start', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}'],
    daemon,
  );
  assert.equal(starts.stdout, 'container start ev-run\n');
});
