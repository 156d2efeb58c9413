/**
 * Images with parents (docker commit, the builder's steps) behave as on Docker: an untagged parent is an
 * intermediate image (hidden from `images`, not dangling, not pruned, not deletable while it has children)
 * and goes away with its last child.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { importBusybox } from '../support/busybox-image.js';
import { runCli, startDaemon, type TestDaemon } from '../support/berthd.js';

let daemon: TestDaemon;
const docker = async (...args: string[]): Promise<string> => {
  const r = await runCli('docker', args, daemon);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

before(async () => {
  daemon = await startDaemon();
  await importBusybox(daemon);
});

after(async () => {
  await runCli('docker', ['rm', '-f', 'p1', 'p2'], daemon);
  await daemon?.stop();
});

test('an untagged parent is intermediate: hidden, not dangling, kept by prune, removed with its child', async () => {
  await docker('run', '--name', 'p1', 'busybox', 'sh', '-c', 'echo 1 > /one');
  const mid = (await docker('commit', 'p1')).trim();
  await docker('run', '--name', 'p2', mid, 'sh', '-c', 'echo 2 > /two');
  const top = (await docker('commit', 'p2', 'child:latest')).trim();
  await docker('rm', 'p1', 'p2');
  assert.equal((await docker('inspect', '--format', '{{.Parent}}', 'child')).trim(), mid);

  const shown = await docker('images', '-q', '--no-trunc');
  assert.ok(shown.includes(top) && !shown.includes(mid), 'the intermediate image is hidden without -a');
  assert.ok((await docker('images', '-aq', '--no-trunc')).includes(mid), 'and listed with -a');
  assert.equal(await docker('images', '-q', '--filter', 'dangling=true'), '', 'an image with a child is not dangling');
  await docker('image', 'prune', '-f');
  assert.ok((await docker('images', '-aq', '--no-trunc')).includes(mid), 'prune keeps it');

  const refused = await runCli('docker', ['rmi', mid], daemon);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /unable to delete [0-9a-f]{12} \(cannot be forced\) - image has dependent child images/);

  const removed = await docker('rmi', 'child');
  assert.match(removed, new RegExp(`Deleted: ${top}`));
  assert.match(removed, new RegExp(`Deleted: ${mid}`), 'the untagged parent goes with its last child');
  assert.equal((await docker('images', '-aq')).trim().split('\n').length, 1, 'only busybox is left');
});
