import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import tarStream from 'tar-stream';
import { applyLayerTar, createLayerTar } from '../../src/store/layer-tar.js';
import { packTar } from '../support/oci-build.js';

const isRoot = process.getuid?.() === 0;

type Entry = Partial<tarStream.Header> & { name: string; body?: string };

async function tarOf(entries: Entry[]): Promise<Readable> {
  const tar = await packTar(
    entries.map(({ body, ...h }) => ({ header: { mode: h.type === 'directory' ? 0o755 : 0o644, ...h }, content: body === undefined ? undefined : Buffer.from(body) })),
  );
  return Readable.from([tar]);
}

async function tarNames(stream: Readable): Promise<string[]> {
  const extract = tarStream.extract();
  stream.pipe(extract as unknown as NodeJS.WritableStream);
  const names: string[] = [];
  for await (const entry of extract) {
    names.push(entry.header.name);
    entry.resume();
  }
  return names;
}

describe('overlayfs honours what applyLayerTar writes', { skip: isRoot ? false : 'needs root to mount overlayfs' }, () => {
  let base: string;
  let merged: string;
  let mounted = false;

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'berth-overlay-'));
    for (const d of ['l1', 'l2', 'upper', 'work', 'merged']) await mkdir(join(base, d));
    merged = join(base, 'merged');

    await applyLayerTar(
      await tarOf([
        { name: 'keep', body: 'kept' },
        { name: 'gone', body: 'deleted by layer 2' },
        { name: 'dir/', type: 'directory' },
        { name: 'dir/a', body: 'a' },
        { name: 'dir/b', body: 'b' },
        { name: 'opq/', type: 'directory' },
        { name: 'opq/old', body: 'hidden by layer 2' },
        { name: 'tree/sub/deep', body: 'deep' },
      ]),
      join(base, 'l1'),
    );
    await applyLayerTar(
      await tarOf([
        { name: '.wh.gone', body: '' },
        { name: 'opq/', type: 'directory' },
        { name: 'opq/.wh..wh..opq', body: '' },
        { name: 'opq/new', body: 'new' },
        { name: 'dir/c', body: 'c' },
        { name: 'tree/.wh.sub', body: '' },
        { name: 'added', body: 'added' },
      ]),
      join(base, 'l2'),
    );

    execFileSync('mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${join(base, 'l2')}:${join(base, 'l1')},upperdir=${join(base, 'upper')},workdir=${join(base, 'work')}`,
      merged,
    ]);
    mounted = true;
  });

  after(async () => {
    if (mounted) execFileSync('umount', [merged]);
    if (base) await rm(base, { recursive: true, force: true });
  });

  it('hides whited-out files and the lower contents of opaque dirs, and merges the rest', async () => {
    assert.equal(await readFile(join(merged, 'keep'), 'utf8'), 'kept');
    assert.equal(existsSync(join(merged, 'gone')), false);
    assert.deepEqual((await readdir(join(merged, 'dir'))).sort(), ['a', 'b', 'c']);
    assert.deepEqual(await readdir(join(merged, 'opq')), ['new']);
    assert.deepEqual(await readdir(join(merged, 'tree')), []);
    assert.equal(await readFile(join(merged, 'added'), 'utf8'), 'added');
    assert.deepEqual((await readdir(merged)).sort(), ['added', 'dir', 'keep', 'opq', 'tree']);
  });

  it("turns the container's deletions in the upper dir into OCI whiteouts", async () => {
    await rm(join(merged, 'keep'));
    await rm(join(merged, 'dir'), { recursive: true });
    await mkdir(join(merged, 'dir'));
    await writeFile(join(merged, 'dir', 'z'), 'z');

    const upper = join(base, 'upper');
    const wh = await lstat(join(upper, 'keep'));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'overlay wrote a whiteout for keep');

    const names = await tarNames(createLayerTar(upper));
    assert.deepEqual(names, ['dir/', 'dir/.wh..wh..opq', 'dir/z', '.wh.keep']);

    // Applied as a new layer on top, it gives the same view.
    const l3 = join(base, 'l3');
    await mkdir(l3);
    await applyLayerTar(createLayerTar(upper), l3);
    const view = join(base, 'view');
    await mkdir(view);
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${l3}:${join(base, 'l2')}:${join(base, 'l1')}`, view]);
    try {
      assert.equal(existsSync(join(view, 'keep')), false);
      assert.deepEqual(await readdir(join(view, 'dir')), ['z']);
      assert.equal(await readFile(join(view, 'added'), 'utf8'), 'added');
    } finally {
      execFileSync('umount', [view]);
    }
  });
});
