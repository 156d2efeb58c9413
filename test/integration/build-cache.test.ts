/**
 * The classic builder's cache beyond one daemon's records: --cache-from restores steps from a loaded image's
 * history, and builder prune removes the images only the cache kept, reporting what system df said it would.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { type BuildFixture, startBuildFixture } from '../support/build-fixture.js';

let fx: BuildFixture;
let api: Agent;

async function call<T>(method: 'GET' | 'POST', path: string): Promise<T> {
  const res = await request(`http://localhost${path}`, { method, dispatcher: api });
  assert.equal(res.statusCode, 200);
  return (await res.body.json()) as T;
}

before(async () => {
  fx = await startBuildFixture('berth-build-cache-');
  api = new Agent({ connect: { socketPath: fx.daemon.socket } });
});

after(async () => {
  await api?.close();
  await fx?.stop();
});

const idOf = (out: string): string => /Successfully built ([0-9a-f]{12})/.exec(out)?.[1] ?? '';

test('--cache-from: after save, rmi of everything, builder prune -af and load, every step comes from the loaded image', async () => {
  const dir = await fx.context('cache-from', {
    Dockerfile: 'FROM busybox\nRUN echo one > /one\nCOPY a.txt /a.txt\nENV X=1\nRUN cat /a.txt /one > /copy\nCMD ["cat", "/copy"]\n',
    'a.txt': 'from the context\n',
  });
  const first = await fx.docker(['build', '-t', 'cf:1', dir]);
  assert.equal(first.code, 0, first.stderr + first.stdout);
  const archive = join(fx.work, 'cf.tar');
  const saved = await fx.docker(['save', '-o', archive, 'cf:1', 'busybox:latest']);
  assert.equal(saved.code, 0, saved.stderr);
  assert.equal((await fx.docker(['rmi', 'cf:1', 'busybox:latest'])).code, 0);
  const pruned = await fx.docker(['builder', 'prune', '-af']);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.equal((await fx.docker(['images', '-aq'])).stdout, '', 'the prune removed the intermediate images');
  const loaded = await fx.docker(['load', '-i', archive]);
  assert.equal(loaded.code, 0, loaded.stderr);

  const again = await fx.docker(['build', '--cache-from', 'cf:1', '-t', 'cf:2', dir]);
  assert.equal(again.code, 0, again.stderr + again.stdout);
  assert.equal(again.stdout.match(/ ---> Using cache\n/g)?.length, 5, again.stdout);
  assert.doesNotMatch(again.stdout, /Running in/);
  assert.equal(idOf(again.stdout), idOf(first.stdout));
  const run = await fx.docker(['run', '--rm', 'cf:2']);
  assert.equal(run.stdout, 'from the context\none\n');

  // A changed file misses from its COPY on; the steps before still come from the loaded image.
  await writeFile(join(dir, 'a.txt'), 'changed\n');
  const changed = await fx.docker(['build', '--cache-from', 'cf:1', dir]);
  assert.equal(changed.code, 0, changed.stderr);
  assert.equal(changed.stdout.match(/ ---> Using cache\n/g)?.length, 1, changed.stdout);
});

test('builder prune removes the images only the cache kept; SpaceReclaimed equals the Build Cache size system df reported', async () => {
  const dir = await fx.context('prune', {
    Dockerfile: 'FROM busybox AS tools\nRUN head -c 200000 /dev/zero > /big\nRUN echo tool > /tool\nFROM busybox\nCOPY --from=tools /tool /tool\nCMD ["cat", "/tool"]\n',
  });
  const built = await fx.docker(['build', '-t', 'pruned:1', dir]);
  assert.equal(built.code, 0, built.stderr + built.stdout);
  const imagesBefore = (await fx.docker(['images', '-aq'])).stdout.split('\n').filter(Boolean).length;

  const df = await call<{ BuildCache: Array<{ Size: number }>; LayersSize: number }>('GET', '/system/df');
  const cacheSize = df.BuildCache.reduce((n, c) => n + c.Size, 0);
  assert.ok(cacheSize >= 200000, `build cache size ${cacheSize}`);

  const prune = await call<{ SpaceReclaimed: number; CachesDeleted: string[] }>('POST', '/build/prune?all=1');
  assert.equal(prune.SpaceReclaimed, cacheSize);
  assert.ok(prune.CachesDeleted.length > 0);
  const dfAfter = await call<{ BuildCache: Array<{ Size: number }>; LayersSize: number }>('GET', '/system/df');
  assert.equal(dfAfter.BuildCache.length, 0);
  assert.equal(df.LayersSize - dfAfter.LayersSize, prune.SpaceReclaimed);
  const imagesAfter = (await fx.docker(['images', '-aq'])).stdout.split('\n').filter(Boolean).length;
  assert.ok(imagesAfter < imagesBefore, `${imagesAfter} < ${imagesBefore}`);

  const run = await fx.docker(['run', '--rm', 'pruned:1']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'tool\n');
});
