import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageView } from '../../src/engine/build/image-view.js';
import { S_IFCHR, mknod, setxattr } from '../../src/runtime/libc.js';

let root: string;
after(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

test('ImageView reads the merged view of overlay-format layers: whiteouts, opaque dirs, files over dirs', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root for mknod and trusted xattrs');
  root = await mkdtemp(join(tmpdir(), 'berth-view-'));
  const lower = join(root, 'lower');
  const upper = join(root, 'upper');
  await mkdir(join(lower, 'etc'), { recursive: true });
  await mkdir(join(lower, 'opq'), { recursive: true });
  await mkdir(join(lower, 'gone/deep'), { recursive: true });
  await writeFile(join(lower, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  await writeFile(join(lower, 'etc/deleted'), 'x');
  await writeFile(join(lower, 'opq/old'), 'x');
  await mkdir(join(upper, 'etc'), { recursive: true });
  await mkdir(join(upper, 'opq'), { recursive: true });
  await writeFile(join(upper, 'opq/new'), 'x');
  mknod(join(upper, 'etc/deleted'), S_IFCHR, 0, 0);
  try {
    setxattr(join(upper, 'opq'), 'trusted.overlay.opaque', 'y');
  } catch {
    return t.skip('filesystem without trusted xattrs');
  }
  await writeFile(join(upper, 'gone'), 'now a file');
  const view = new ImageView([upper, lower]);
  assert.equal(await view.readText('/etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  assert.equal(await view.lstat('/etc/deleted'), undefined);
  assert.equal(await view.lstat('/opq/old'), undefined);
  assert.ok((await view.lstat('/opq/new'))?.isFile());
  assert.equal(await view.isDir('/gone'), false);
  assert.equal(await view.lstat('/gone/deep'), undefined);
  assert.equal(await view.isDir('/etc'), true);
});
