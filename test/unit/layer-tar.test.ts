import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { mkdtemp, rm, lstat, readFile, readlink, readdir, writeFile, mkdir, symlink, link, stat, chown } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/errors.js';
import { applyLayerTar, chainIds, cleanEntryPath, createLayerTar } from '../../src/store/layer-tar.js';
import { getxattr, mknod, setxattr, S_IFCHR, S_IFIFO } from '../../src/runtime/libc.js';
import type { Digest } from '../../src/util/digest.js';

type TestEntry = Partial<tarStream.Header> & { name: string; body?: string | Buffer };

const isRoot = process.getuid?.() === 0;

/** A tar built in memory from a list of entries. */
async function buildTar(entries: TestEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const e of entries) {
    const { body, ...header } = e;
    const buf = body === undefined ? undefined : Buffer.from(body);
    const h: tarStream.Header = {
      mode: header.type === 'directory' ? 0o755 : 0o644,
      mtime: new Date(1_700_000_000_000),
      uid: 0,
      gid: 0,
      ...header,
      size: buf?.length ?? header.size ?? 0,
    } as tarStream.Header;
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (buf) pack.entry(h, buf, cb);
      else pack.entry(h, cb);
    });
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

function tarStreamOf(buf: Buffer): Readable {
  // Small chunks so entry bodies and headers straddle chunk boundaries.
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += 700) parts.push(buf.subarray(i, i + 700));
  return Readable.from(parts);
}

async function listTar(stream: Readable): Promise<Array<{ header: tarStream.Header; body: Buffer }>> {
  const extract = tarStream.extract();
  stream.pipe(extract as unknown as NodeJS.WritableStream);
  const out: Array<{ header: tarStream.Header; body: Buffer }> = [];
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry as AsyncIterable<Buffer>) chunks.push(c);
    out.push({ header: entry.header, body: Buffer.concat(chunks) });
  }
  return out;
}

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-test-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const rootOnly = isRoot ? {} : { skip: 'needs root (chown, mknod, trusted.* xattrs)' };

async function applyEntries(dir: string, entries: TestEntry[], opts?: { allowDevices?: boolean }): Promise<number> {
  const res = await applyLayerTar(tarStreamOf(await buildTar(entries)), dir, opts);
  return res.size;
}

async function assertRefused(entries: TestEntry[], pattern: RegExp, opts?: { allowDevices?: boolean }): Promise<void> {
  await withTempDir(async (base) => {
    const dir = join(base, 'layer');
    await mkdir(dir);
    await assert.rejects(applyEntries(dir, entries, opts), (err: unknown) => {
      assert.ok(err instanceof BerthError, `expected BerthError, got ${String(err)}`);
      assert.equal(err.code, 'invalid_argument');
      assert.match(err.message, pattern);
      return true;
    });
    // Nothing may appear beside the layer dir.
    assert.deepEqual((await readdir(base)).sort(), ['layer'].concat(existsSync(join(base, 'outside')) ? ['outside'] : []).sort());
  });
}

function isWhiteout(st: { isCharacterDevice(): boolean; rdev: number }): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

describe('chainIds', () => {
  const d1 = `sha256:${'1'.repeat(64)}` as Digest;
  const d2 = `sha256:${'2'.repeat(64)}` as Digest;
  const d3 = `sha256:${'3'.repeat(64)}` as Digest;
  it('starts with the first diff ID and hashes "parent diff" pairs after that', () => {
    assert.deepEqual(chainIds([d1, d2, d3]), [
      d1,
      'sha256:9932074217c35353d2e03a3f5a86549f7c67bfeb0ba53e23d69f4d4c8f7958f5',
      'sha256:50127c0d6b338be78246434b4bce23ecf75e505158ea0bbd15effeb162fbf3ec',
    ]);
  });
  it('is empty for no layers', () => {
    assert.deepEqual(chainIds([]), []);
  });
});

describe('cleanEntryPath', () => {
  it('makes names relative and resolves dots lexically', () => {
    assert.equal(cleanEntryPath('/etc/x'), 'etc/x');
    assert.equal(cleanEntryPath('./a/./b/'), 'a/b');
    assert.equal(cleanEntryPath('a/../b'), 'b');
    assert.equal(cleanEntryPath('./'), '');
  });
  it('refuses names that climb above the root', () => {
    assert.throws(() => cleanEntryPath('../x'), /escapes the layer root/);
    assert.throws(() => cleanEntryPath('a/../../x'), /escapes the layer root/);
    assert.throws(() => cleanEntryPath('/../x'), /escapes the layer root/);
  });
});

describe('applyLayerTar', rootOnly, () => {
  it('unpacks files, dirs, symlinks, hard links and fifos with their metadata', async () => {
    await withTempDir(async (dir) => {
      const mtime = new Date(1_600_000_000_000);
      const size = await applyEntries(dir, [
        { name: 'bin/', type: 'directory', mode: 0o750, uid: 5, gid: 6, mtime },
        { name: 'bin/tool', body: 'tool-bytes', mode: 0o4755, uid: 7, gid: 8, mtime },
        { name: 'bin/alias', type: 'symlink', linkname: 'tool', uid: 9, gid: 10 },
        { name: 'bin/hard', type: 'link', linkname: 'bin/tool' },
        { name: 'deep/er/file.txt', body: 'implicit parents' },
        { name: 'run/pipe', type: 'fifo', mode: 0o620 },
        { name: '/abs/name', body: 'made relative' },
        { name: 'empty', body: '' },
      ]);
      assert.equal(size, 'tool-bytes'.length + 'implicit parents'.length + 'made relative'.length);

      const bin = await lstat(join(dir, 'bin'));
      assert.ok(bin.isDirectory());
      assert.equal(bin.mode & 0o7777, 0o750);
      assert.equal(bin.uid, 5);
      assert.equal(bin.gid, 6);
      assert.equal(bin.mtimeMs, mtime.getTime(), 'directory mtime is set after its contents');

      const tool = await lstat(join(dir, 'bin/tool'));
      assert.equal(await readFile(join(dir, 'bin/tool'), 'utf8'), 'tool-bytes');
      assert.equal(tool.mode & 0o7777, 0o4755, 'setuid bit kept');
      assert.equal(tool.uid, 7);
      assert.equal(tool.gid, 8);
      assert.equal(tool.mtimeMs, mtime.getTime());
      assert.equal(tool.nlink, 2);

      const hard = await lstat(join(dir, 'bin/hard'));
      assert.equal(hard.ino, tool.ino);

      const alias = await lstat(join(dir, 'bin/alias'));
      assert.ok(alias.isSymbolicLink());
      assert.equal(await readlink(join(dir, 'bin/alias')), 'tool');
      assert.equal(alias.uid, 9);

      assert.equal(await readFile(join(dir, 'deep/er/file.txt'), 'utf8'), 'implicit parents');
      assert.equal((await lstat(join(dir, 'deep'))).mode & 0o7777, 0o755);
      const pipe = await lstat(join(dir, 'run/pipe'));
      assert.ok(pipe.isFIFO());
      assert.equal(pipe.mode & 0o7777, 0o620);
      assert.equal(await readFile(join(dir, 'abs/name'), 'utf8'), 'made relative');
      assert.equal((await stat(join(dir, 'empty'))).size, 0);
    });
  });

  it('handles long names and link names through PAX headers', async () => {
    await withTempDir(async (dir) => {
      const longDir = `${'d'.repeat(120)}/${'e'.repeat(120)}`;
      await applyEntries(dir, [
        { name: `${longDir}/${'f'.repeat(150)}`, body: 'long' },
        { name: 'short-link', type: 'link', linkname: `${longDir}/${'f'.repeat(150)}` },
        { name: 'ünïcode-名前', body: 'utf8 name' },
      ]);
      assert.equal(await readFile(join(dir, longDir, 'f'.repeat(150)), 'utf8'), 'long');
      assert.equal(await readFile(join(dir, 'short-link'), 'utf8'), 'long');
      assert.equal(await readFile(join(dir, 'ünïcode-名前'), 'utf8'), 'utf8 name');
    });
  });

  it('streams a large file intact', async () => {
    await withTempDir(async (dir) => {
      const big = Buffer.alloc(3 * 1024 * 1024 + 17);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
      const size = await applyEntries(dir, [{ name: 'big.bin', body: big }]);
      assert.equal(size, big.length);
      assert.ok((await readFile(join(dir, 'big.bin'))).equals(big));
    });
  });

  it('turns OCI whiteouts into overlay whiteouts and opaque dirs', async () => {
    await withTempDir(async (dir) => {
      await applyEntries(dir, [
        { name: 'etc/', type: 'directory' },
        { name: 'etc/.wh.passwd', body: '', uid: 3, gid: 4 },
        { name: 'opaque/', type: 'directory' },
        { name: 'opaque/.wh..wh..opq', body: '' },
        { name: 'opaque/kept', body: 'new' },
        { name: 'implicit/.wh..wh..opq', body: '' },
        { name: '.wh.toplevel', body: '' },
        { name: 'aufs/.wh..wh.plnk', type: 'directory' },
      ]);
      const wh = await lstat(join(dir, 'etc/passwd'));
      assert.ok(isWhiteout(wh), 'etc/passwd is a 0:0 char device');
      assert.equal(wh.uid, 3);
      assert.ok(isWhiteout(await lstat(join(dir, 'toplevel'))));
      assert.equal(existsSync(join(dir, 'etc/.wh.passwd')), false, 'no .wh. file is left');
      assert.equal(getxattr(join(dir, 'opaque'), 'trusted.overlay.opaque')?.toString(), 'y');
      assert.equal(await readFile(join(dir, 'opaque/kept'), 'utf8'), 'new', 'an opaque dir keeps its own entries');
      assert.equal(existsSync(join(dir, 'opaque/.wh..wh..opq')), false);
      assert.equal(getxattr(join(dir, 'implicit'), 'trusted.overlay.opaque')?.toString(), 'y');
      assert.equal(existsSync(join(dir, 'aufs/.wh..wh.plnk')), false, 'aufs metadata is skipped');
      assert.equal(getxattr(join(dir, 'etc'), 'trusted.overlay.opaque'), undefined);
    });
  });

  it('lets a later entry replace a whiteout of the same name', async () => {
    await withTempDir(async (dir) => {
      await applyEntries(dir, [
        { name: '.wh.back', body: '' },
        { name: 'back', body: 'returned' },
        { name: '.wh.dir', body: '' },
        { name: 'dir/', type: 'directory' },
        { name: 'dir/x', body: 'x' },
      ]);
      assert.equal(await readFile(join(dir, 'back'), 'utf8'), 'returned');
      assert.ok((await lstat(join(dir, 'dir'))).isDirectory());
      assert.equal(await readFile(join(dir, 'dir/x'), 'utf8'), 'x');
    });
  });

  it('replaces existing paths: file over dir, dir over file, symlink over file, dir over dir merges', async () => {
    await withTempDir(async (dir) => {
      await applyEntries(dir, [
        { name: 'was-dir/', type: 'directory' },
        { name: 'was-dir/child', body: 'child' },
        { name: 'was-file', body: 'file' },
        { name: 'link-target', body: 'must not change' },
        { name: 'was-link', type: 'symlink', linkname: 'link-target' },
        { name: 'merge/', type: 'directory', mode: 0o700 },
        { name: 'merge/old', body: 'old' },
        { name: 'over', body: 'v1' },
      ]);
      await applyEntries(dir, [
        { name: 'was-dir', body: 'now a file' },
        { name: 'was-file/', type: 'directory' },
        { name: 'was-file/inner', body: 'inner' },
        { name: 'was-link', body: 'replaced the link, not its target' },
        { name: 'merge/', type: 'directory', mode: 0o755 },
        { name: 'merge/new', body: 'new' },
        { name: 'over', body: 'v2' },
      ]);
      assert.equal(await readFile(join(dir, 'was-dir'), 'utf8'), 'now a file');
      assert.equal(await readFile(join(dir, 'was-file/inner'), 'utf8'), 'inner');
      assert.ok((await lstat(join(dir, 'was-link'))).isFile());
      assert.equal(await readFile(join(dir, 'link-target'), 'utf8'), 'must not change');
      assert.equal(await readFile(join(dir, 'merge/old'), 'utf8'), 'old');
      assert.equal(await readFile(join(dir, 'merge/new'), 'utf8'), 'new');
      assert.equal((await lstat(join(dir, 'merge'))).mode & 0o7777, 0o755);
      assert.equal(await readFile(join(dir, 'over'), 'utf8'), 'v2');
    });
  });

  it('keeps tar order while small files are written in the background', async () => {
    await withTempDir(async (dir) => {
      const many: TestEntry[] = [];
      for (let i = 0; i < 40; i++) many.push({ name: `many/f${i}`, body: `content ${i}` });
      await applyEntries(dir, [
        ...many,
        { name: 'link-to-first', type: 'link', linkname: 'many/f0' },
        { name: 'twice', body: 'first' },
        { name: 'twice', body: 'second' },
        { name: 'file-then-dir', body: 'file' },
        { name: 'file-then-dir/', type: 'directory' },
        { name: 'file-then-dir/inner', body: 'inner' },
        { name: 'dir-then-file/a', body: 'a' },
        { name: 'dir-then-file/b', body: 'b' },
        { name: 'dir-then-file', body: 'now a file' },
        { name: 'wh-after-file', body: 'doomed' },
        { name: '.wh.wh-after-file', body: '' },
      ]);
      for (let i = 0; i < 40; i++) assert.equal(await readFile(join(dir, `many/f${i}`), 'utf8'), `content ${i}`);
      assert.equal((await lstat(join(dir, 'link-to-first'))).ino, (await lstat(join(dir, 'many/f0'))).ino);
      assert.equal(await readFile(join(dir, 'link-to-first'), 'utf8'), 'content 0');
      assert.equal(await readFile(join(dir, 'twice'), 'utf8'), 'second');
      assert.equal(await readFile(join(dir, 'file-then-dir/inner'), 'utf8'), 'inner');
      assert.equal(await readFile(join(dir, 'dir-then-file'), 'utf8'), 'now a file');
      assert.ok(isWhiteout(await lstat(join(dir, 'wh-after-file'))));
    });
  });

  it('applies security.capability from a binary PAX xattr (as GNU tar writes it)', async () => {
    await withTempDir(async (base) => {
      const src = join(base, 'src');
      const dir = join(base, 'dst');
      await mkdir(src);
      await mkdir(dir);
      // vfs_cap_data v2, effective, permitted = setuid(7) | net_bind_service(10): contains byte 0x80.
      const cap = Buffer.from([0x01, 0, 0, 0x02, 0x80, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
      await writeFile(join(src, 'ping'), 'binary', { mode: 0o755 });
      await writeFile(join(src, 'plain'), 'no caps');
      await chown(join(src, 'ping'), 1, 1);
      setxattr(join(src, 'ping'), 'security.capability', cap);
      const tar = execFileSync('tar', ['--xattrs', "--xattrs-include=*", '--format=posix', '-C', src, '-cf', '-', 'ping', 'plain']);
      await applyLayerTar(tarStreamOf(tar), dir);
      assert.deepEqual(getxattr(join(dir, 'ping'), 'security.capability'), cap);
      assert.equal((await lstat(join(dir, 'ping'))).uid, 1, 'owner set before the capability, which chown would clear');
      assert.equal(getxattr(join(dir, 'plain'), 'security.capability'), undefined);
    });
  });

  it('applies a root entry to the layer dir and links a symlink itself, never its target', async () => {
    await withTempDir(async (base) => {
      const dir = join(base, 'layer');
      await mkdir(dir);
      await writeFile(join(base, 'secret'), 'secret');
      await applyEntries(dir, [
        { name: './', type: 'directory', mode: 0o711 },
        { name: 'to-secret', type: 'symlink', linkname: join(base, 'secret') },
        { name: 'hard-to-link', type: 'link', linkname: 'to-secret' },
      ]);
      assert.equal((await lstat(dir)).mode & 0o7777, 0o711);
      const hard = await lstat(join(dir, 'hard-to-link'));
      assert.ok(hard.isSymbolicLink(), 'the hard link shares the symlink inode');
      assert.equal(hard.ino, (await lstat(join(dir, 'to-secret'))).ino);
      assert.equal((await lstat(join(base, 'secret'))).nlink, 1);
    });
  });

  it('refuses a non-directory entry naming the root', async () => {
    await assertRefused([{ name: './', body: 'x' }], /only a directory may name the layer root/);
  });

  it('refuses ../x', async () => {
    await assertRefused([{ name: '../x', body: 'escape' }], /"\.\.\/x".*escapes the layer root/);
  });

  it('refuses a/../../x', async () => {
    await assertRefused([{ name: 'a/../../x', body: 'escape' }], /escapes the layer root/);
  });

  it('refuses writing through a symlinked parent', async () => {
    await withTempDir(async (base) => {
      const dir = join(base, 'layer');
      const outside = join(base, 'outside');
      await mkdir(dir);
      await mkdir(outside);
      await assert.rejects(
        applyEntries(dir, [
          { name: 'escape', type: 'symlink', linkname: outside },
          { name: 'escape/pwned', body: 'x' },
        ]),
        (err: unknown) => err instanceof BerthError && err.code === 'invalid_argument' && /escape\/pwned.*symbolic link/.test(err.message),
      );
      assert.deepEqual(await readdir(outside), []);
      // A relative symlink climbing out is refused the same way, and so is one to a dir inside the root.
      await assert.rejects(
        applyEntries(dir, [
          { name: 'rel', type: 'symlink', linkname: '../outside' },
          { name: 'rel/pwned', body: 'x' },
        ]),
        /symbolic link/,
      );
      assert.deepEqual(await readdir(outside), []);
    });
  });

  it('refuses a symlink planted by an earlier layer as a parent', async () => {
    await withTempDir(async (base) => {
      const dir = join(base, 'layer');
      await mkdir(join(base, 'outside'), { recursive: true });
      await mkdir(dir);
      await applyEntries(dir, [{ name: 'etc', type: 'symlink', linkname: '/' + join(base, 'outside').slice(1) }]);
      await assert.rejects(applyEntries(dir, [{ name: 'etc/passwd', body: 'root::0:0' }]), /parent "etc" is a symbolic link/);
      assert.deepEqual(await readdir(join(base, 'outside')), []);
    });
  });

  it('refuses a hard link whose target leaves the root', async () => {
    await assertRefused([{ name: 'passwd', type: 'link', linkname: '../../etc/passwd' }], /"passwd".*escapes the layer root/);
  });

  it('refuses a hard link to a missing target or through a symlinked parent', async () => {
    await assertRefused([{ name: 'l', type: 'link', linkname: 'nothing-here' }], /does not exist/);
    await withTempDir(async (base) => {
      const dir = join(base, 'layer');
      await mkdir(dir);
      await writeFile(join(base, 'secret'), 'secret');
      await assert.rejects(
        applyEntries(dir, [
          { name: 'up', type: 'symlink', linkname: base },
          { name: 'stolen', type: 'link', linkname: 'up/secret' },
        ]),
        /symbolic link/,
      );
      assert.equal(existsSync(join(dir, 'stolen')), false);
    });
  });

  it('refuses device nodes unless allowed', async () => {
    await assertRefused([{ name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 }], /"dev\/sda".*device nodes/);
    await assertRefused([{ name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3 }], /device nodes/);
    await withTempDir(async (dir) => {
      await applyEntries(dir, [{ name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 }], {
        allowDevices: true,
      });
      const st = await lstat(join(dir, 'dev/null'));
      assert.ok(st.isCharacterDevice());
      assert.equal(st.rdev, (1 << 8) | 3);
      assert.equal(st.mode & 0o7777, 0o666);
      // A 0:0 char device is an overlay whiteout and is fine without allowDevices.
      await applyEntries(dir, [{ name: 'gone', type: 'character-device', devmajor: 0, devminor: 0 }]);
      assert.ok(isWhiteout(await lstat(join(dir, 'gone'))));
    });
  });

  it('rejects a truncated tar as invalid', async () => {
    await withTempDir(async (dir) => {
      const tar = await buildTar([{ name: 'f', body: Buffer.alloc(5000, 1) }]);
      await assert.rejects(applyLayerTar(tarStreamOf(tar.subarray(0, 2048)), dir), (err: unknown) => {
        return err instanceof BerthError && err.code === 'invalid_argument' && /invalid layer tar/.test(err.message);
      });
    });
  });

  it('reports an error of the source stream', async () => {
    await withTempDir(async (dir) => {
      const src = new Readable({ read() {} });
      const applied = applyLayerTar(src, dir);
      src.push((await buildTar([{ name: 'a', body: 'x' }])).subarray(0, 1024));
      src.destroy(new BerthError('invalid_argument', 'digest mismatch upstream'));
      await assert.rejects(applied, /digest mismatch upstream/);
    });
  });
});

describe('createLayerTar', rootOnly, () => {
  async function makeTree(dir: string): Promise<void> {
    await mkdir(join(dir, 'bin'));
    await writeFile(join(dir, 'bin/tool'), 'tool');
    await link(join(dir, 'bin/tool'), join(dir, 'bin/tool2'));
    await symlink('tool', join(dir, 'bin/alias'));
    await chown(join(dir, 'bin/tool'), 12, 34);
    await mkdir(join(dir, 'opaque'));
    setxattr(join(dir, 'opaque'), 'trusted.overlay.opaque', 'y');
    await writeFile(join(dir, 'opaque/inside'), 'inside');
    await mkdir(join(dir, 'etc'));
    mknod(join(dir, 'etc/removed'), S_IFCHR, 0, 0);
    mknod(join(dir, 'fifo'), S_IFIFO | 0o644, 0, 0);
    await writeFile(join(dir, 'a-file'), Buffer.alloc(70_000, 7));
    const longName = `${'x'.repeat(110)}/${'y'.repeat(110)}`;
    await mkdir(join(dir, 'x'.repeat(110)));
    await writeFile(join(dir, longName), 'long');
    await writeFile(join(dir, 'capped'), 'cap');
    setxattr(join(dir, 'capped'), 'security.capability', Buffer.from([1, 0, 0, 2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
  }

  it('emits sorted entries with OCI whiteouts, opaque markers and hard links', async () => {
    await withTempDir(async (base) => {
      const src = join(base, 'src');
      await mkdir(src);
      await makeTree(src);
      const entries = await listTar(createLayerTar(src));
      const names = entries.map((e) => e.header.name);
      assert.deepEqual(names.slice(0, 4), ['a-file', 'bin/', 'bin/alias', 'bin/tool']);
      assert.ok(names.includes('etc/.wh.removed'));
      assert.ok(names.includes('opaque/.wh..wh..opq'));
      assert.equal(names.indexOf('opaque/.wh..wh..opq'), names.indexOf('opaque/') + 1, 'marker right after its dir');
      const hard = entries.find((e) => e.header.name === 'bin/tool2');
      assert.equal(hard?.header.type, 'link');
      assert.equal(hard?.header.linkname, 'bin/tool');
      const tool = entries.find((e) => e.header.name === 'bin/tool');
      assert.equal(tool?.header.uid, 12);
      assert.equal(tool?.body.toString(), 'tool');
      assert.equal(entries.find((e) => e.header.name === 'fifo')?.header.type, 'fifo');
      assert.ok(names.includes(`${'x'.repeat(110)}/${'y'.repeat(110)}`));
      assert.equal(entries.find((e) => e.header.name === 'a-file')?.body.length, 70_000);
    });
  });

  it('is deterministic and round-trips through applyLayerTar', async () => {
    await withTempDir(async (base) => {
      const src = join(base, 'src');
      const dst = join(base, 'dst');
      await mkdir(src);
      await mkdir(dst);
      await makeTree(src);
      const collect = async (): Promise<Buffer> => {
        const chunks: Buffer[] = [];
        for await (const c of createLayerTar(src)) chunks.push(c as Buffer);
        return Buffer.concat(chunks);
      };
      const first = await collect();
      const second = await collect();
      assert.ok(first.equals(second), 'same tree, same bytes');
      await applyLayerTar(tarStreamOf(first), dst);

      assert.equal(await readFile(join(dst, 'bin/tool'), 'utf8'), 'tool');
      assert.equal((await lstat(join(dst, 'bin/tool2'))).ino, (await lstat(join(dst, 'bin/tool'))).ino);
      assert.equal((await lstat(join(dst, 'bin/tool'))).uid, 12);
      assert.equal(await readlink(join(dst, 'bin/alias')), 'tool');
      assert.equal(getxattr(join(dst, 'opaque'), 'trusted.overlay.opaque')?.toString(), 'y');
      assert.equal(await readFile(join(dst, 'opaque/inside'), 'utf8'), 'inside');
      assert.ok(isWhiteout(await lstat(join(dst, 'etc/removed'))));
      assert.ok((await lstat(join(dst, 'fifo'))).isFIFO());
      assert.equal(await readFile(join(dst, 'x'.repeat(110), 'y'.repeat(110)), 'utf8'), 'long');
      assert.deepEqual(getxattr(join(dst, 'capped'), 'security.capability'), getxattr(join(src, 'capped'), 'security.capability'));
      assert.ok((await readFile(join(dst, 'a-file'))).equals(Buffer.alloc(70_000, 7)));
      assert.deepEqual((await readdir(dst)).sort(), (await readdir(src)).sort());
    });
  });
});
