import assert from 'node:assert/strict';
import { link, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SnapshotStore } from '../../src/store/snapshots.js';
import { sha256Digest, type Digest } from '../../src/util/digest.js';

describe('SnapshotStore', () => {
  let root: string;
  let snaps: SnapshotStore;
  const chainA = sha256Digest('chain a');
  const chainB = sha256Digest('chain b');

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-snap-'));
    snaps = new SnapshotStore(root);
    await snaps.init();
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const snapshotDirEntries = async (): Promise<string[]> => (await readdir(join(root, 'snapshots'))).sort();

  it('prepare gives a temp fs dir that commit publishes under the chain ID', async () => {
    const p = await snaps.prepare();
    assert.match(p.fsDir, /\/snapshots\/tmp-[0-9a-f]+\/fs$/);
    await writeFile(join(p.fsDir, 'hello'), 'world');
    assert.equal(await snaps.has(chainA), false);
    await p.commit(chainA);
    assert.equal(await snaps.has(chainA), true);
    assert.equal(snaps.fsPath(chainA), join(root, 'snapshots', chainA.slice(7), 'fs'));
    assert.equal(await readFile(join(snaps.fsPath(chainA), 'hello'), 'utf8'), 'world');
    assert.deepEqual(await snaps.list(), [chainA]);
    assert.deepEqual(await snapshotDirEntries(), [chainA.slice(7)]);
  });

  it('a second commit of the same chain ID keeps the first and drops the temp dir', async () => {
    const p = await snaps.prepare();
    await writeFile(join(p.fsDir, 'hello'), 'other');
    await p.commit(chainA);
    assert.equal(await readFile(join(snaps.fsPath(chainA), 'hello'), 'utf8'), 'world');
    assert.deepEqual(await snapshotDirEntries(), [chainA.slice(7)]);
  });

  it('abort removes the temp dir', async () => {
    const p = await snaps.prepare();
    await mkdir(join(p.fsDir, 'sub'));
    await writeFile(join(p.fsDir, 'sub', 'f'), 'x');
    await p.abort();
    await p.abort();
    assert.deepEqual(await snapshotDirEntries(), [chainA.slice(7)]);
    assert.equal(await snaps.has(chainB), false);
  });

  it('diskUsage sums file bytes, counting hard links once', async () => {
    const p = await snaps.prepare();
    await writeFile(join(p.fsDir, 'a'), Buffer.alloc(1000));
    await link(join(p.fsDir, 'a'), join(p.fsDir, 'a2'));
    await mkdir(join(p.fsDir, 'd'));
    await writeFile(join(p.fsDir, 'd', 'b'), Buffer.alloc(234));
    await p.commit(chainB);
    assert.equal(await snaps.diskUsage(chainB), 1234);
    assert.equal(await snaps.diskUsage(sha256Digest('absent')), 0);
  });

  it('remove deletes a snapshot and tolerates a missing one', async () => {
    await snaps.remove(chainB);
    assert.equal(await snaps.has(chainB), false);
    await snaps.remove(chainB);
    assert.deepEqual(await snaps.list(), [chainA]);
  });

  it('cleanTemp removes what a crash left behind, and only that', async () => {
    await snaps.prepare();
    await snaps.prepare();
    assert.equal(await snaps.cleanTemp(), 2);
    assert.deepEqual(await snapshotDirEntries(), [chainA.slice(7)]);
    assert.equal(await snaps.cleanTemp(), 0);
  });

  it('refuses malformed chain IDs', () => {
    assert.throws(() => snaps.fsPath('sha256:..' as Digest), /invalid chain ID/);
  });
});
