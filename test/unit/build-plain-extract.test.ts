import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { extractPlainTar } from '../../src/engine/build/plain-extract.js';
import { isTarHeader } from '../../src/engine/build/add-archive.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'berth-plain-'));
  dirs.push(d);
  return d;
}

type Entry = Partial<tarStream.Header> & { name: string; body?: string };

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const e of entries) {
    const { body, ...h } = e;
    await new Promise<void>((resolve, reject) => pack.entry(h as tarStream.Header, body ?? '', (err) => (err ? reject(err) : resolve())));
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

test('whiteout names stay plain files; modes, mtimes, symlinks and hard links are kept', async () => {
  const dir = await tmp();
  const mtime = new Date('2021-05-06T07:08:09Z');
  const tar = await tarOf([
    { name: '.wh.x', body: 'w\n', mode: 0o644 },
    { name: 'sub/', type: 'directory', mode: 0o750, mtime },
    { name: 'sub/.wh..wh..opq', body: '', mode: 0o600 },
    { name: 'sub/run.sh', body: 'echo\n', mode: 0o755, mtime },
    { name: 'link', type: 'symlink', linkname: 'sub/run.sh' },
    { name: 'hard', type: 'link', linkname: 'sub/run.sh' },
  ]);
  await extractPlainTar(Readable.from([tar]), dir);
  assert.equal(await readFile(join(dir, '.wh.x'), 'utf8'), 'w\n');
  assert.ok((await lstat(join(dir, 'sub/.wh..wh..opq'))).isFile());
  const run = await lstat(join(dir, 'sub/run.sh'));
  assert.equal(run.mode & 0o7777, 0o755);
  assert.equal(run.mtime.getTime(), mtime.getTime());
  assert.equal((await lstat(join(dir, 'sub'))).mode & 0o7777, 0o750);
  assert.equal((await lstat(join(dir, 'sub'))).mtime.getTime(), mtime.getTime());
  assert.equal(await readlink(join(dir, 'link')), 'sub/run.sh');
  assert.equal((await lstat(join(dir, 'hard'))).ino, run.ino);
});

test('entries that escape the root are refused: .., a symlinked parent, a hard link out', async () => {
  for (const entries of [
    [{ name: '../evil', body: 'x' }],
    [{ name: 'up', type: 'symlink' as const, linkname: '/tmp' }, { name: 'up/evil', body: 'x' }],
    [{ name: 'h', type: 'link' as const, linkname: '../../etc/passwd' }],
  ]) {
    const dir = await tmp();
    await assert.rejects(extractPlainTar(Readable.from([await tarOf(entries)]), join(dir)), (e: Error & { code?: string }) => e.code === 'invalid_argument');
  }
});

test('isTarHeader checks the header checksum', async () => {
  const tar = await tarOf([{ name: 'a', body: 'x' }]);
  assert.equal(isTarHeader(tar.subarray(0, 512)), true);
  const bad = Buffer.from(tar.subarray(0, 512));
  bad[0] ^= 1;
  assert.equal(isTarHeader(bad), false);
  assert.equal(isTarHeader(Buffer.alloc(512, 0x41)), false);
});
