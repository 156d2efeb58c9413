/** Overlay mounts through mount(2) and the long-lowerdir fallback. Needs root. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isMounted, mountOverlay, unmount } from '../../src/runtime/mounts.js';

const run = promisify(execFile);

let work: string;
const targets: string[] = [];

async function dirWith(path: string, files: Record<string, string>): Promise<string> {
  await mkdir(path, { recursive: true });
  for (const [name, content] of Object.entries(files)) await writeFile(join(path, name), content);
  return path;
}

async function target(name: string): Promise<string> {
  const t = join(work, 'mnt', name);
  await mkdir(t, { recursive: true });
  targets.push(t);
  return t;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'berth-mounts-'));
});

after(async () => {
  for (const t of targets) await unmount(t, { lazy: true }).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
});

describe('mounts', () => {
  test('overlay with upper: the top lower wins, writes go to upper, unmount twice is fine', async () => {
    const low1 = await dirWith(join(work, 'l1'), { a: 'top', only1: '1' });
    const low2 = await dirWith(join(work, 'l2'), { a: 'bottom', only2: '2' });
    const upper = await dirWith(join(work, 'u'), {});
    const wdir = await dirWith(join(work, 'w'), {});
    const t = await target('rw');
    assert.equal(await isMounted(t), false);
    await mountOverlay({ lowerDirs: [low1, low2], upperDir: upper, workDir: wdir, target: t });
    assert.equal(await isMounted(t), true);
    assert.equal(await readFile(join(t, 'a'), 'utf8'), 'top');
    assert.deepEqual((await readdir(t)).sort(), ['a', 'only1', 'only2']);
    await writeFile(join(t, 'new'), 'x');
    assert.equal(await readFile(join(upper, 'new'), 'utf8'), 'x');
    await unmount(t);
    assert.equal(await isMounted(t), false);
    await unmount(t);
    await unmount(join(work, 'does-not-exist'));
  });

  test('read-only: two lowers without upper, and a single lower as a read-only bind', async () => {
    const low1 = await dirWith(join(work, 'r1'), { a: '1' });
    const low2 = await dirWith(join(work, 'r2'), { b: '2' });
    const t = await target('ro2');
    await mountOverlay({ lowerDirs: [low1, low2], target: t });
    assert.deepEqual((await readdir(t)).sort(), ['a', 'b']);
    await assert.rejects(writeFile(join(t, 'c'), 'x'), (e: NodeJS.ErrnoException) => e.code === 'EROFS');
    await unmount(t);
    const t1 = await target('ro1');
    await mountOverlay({ lowerDirs: [low1], target: t1 });
    assert.equal(await readFile(join(t1, 'a'), 'utf8'), '1');
    await assert.rejects(writeFile(join(t1, 'c'), 'x'), (e: NodeJS.ErrnoException) => e.code === 'EROFS');
    await unmount(t1);
    assert.equal(await isMounted(t1), false);
  });

  test('a lower stack longer than one page of mount data still mounts', async () => {
    const layers = join(work, 'layers-with-a-rather-long-directory-name-to-fill-the-page', 'sha256');
    const lowers: string[] = [];
    for (let i = 0; i < 60; i++) {
      const name = `${String(i).padStart(2, '0')}${'f'.repeat(62)}`;
      lowers.push(await dirWith(join(layers, name, 'diff'), { [`file${i}`]: String(i), shared: String(i) }));
    }
    assert.ok(lowers.join(':').length > 4096);
    const upper = await dirWith(join(work, 'lu'), {});
    const wdir = await dirWith(join(work, 'lw'), {});
    const t = await target('long');
    await mountOverlay({ lowerDirs: lowers, upperDir: upper, workDir: wdir, target: t });
    assert.equal(await isMounted(t), true);
    assert.equal((await readdir(t)).length, 61);
    assert.equal(await readFile(join(t, 'shared'), 'utf8'), '0');
    await unmount(t);
  });

  test('bad input is refused', async () => {
    await assert.rejects(mountOverlay({ lowerDirs: [], target: join(work, 'x') }), /at least one/);
    await assert.rejects(mountOverlay({ lowerDirs: ['/a,b'], upperDir: '/u', workDir: '/w', target: join(work, 'x') }), /not usable/);
    await assert.rejects(mountOverlay({ lowerDirs: [join(work, 'missing')], upperDir: join(work, 'u'), workDir: join(work, 'w'), target: join(work, 'x') }));
  });

  test('mount(2) through koffi against /bin/mount (reported, not asserted)', async () => {
    const low = await dirWith(join(work, 'bench-l'), { a: '1' });
    const t = await target('bench');
    let n = 0;
    const median = async (mountIt: (upper: string, wdir: string) => Promise<void>): Promise<number> => {
      const samples: number[] = [];
      for (let i = 0; i < 11; i++) {
        n++;
        const upper = await dirWith(join(work, 'bench', `u${n}`), {});
        const wdir = await dirWith(join(work, 'bench', `w${n}`), {});
        const t0 = process.hrtime.bigint();
        await mountIt(upper, wdir);
        samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
        assert.equal(await readFile(join(t, 'a'), 'utf8'), '1');
        await unmount(t);
      }
      return samples.sort((a, b) => a - b)[5] as number;
    };
    const koffiMs = await median((upper, wdir) => mountOverlay({ lowerDirs: [low], upperDir: upper, workDir: wdir, target: t }));
    const binMs = await median(async (upper, wdir) => {
      await run('/bin/mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${low},upperdir=${upper},workdir=${wdir}`, t]);
    });
    console.log(`# overlay mount median: koffi mount(2) ${koffiMs.toFixed(2)} ms, /bin/mount ${binMs.toFixed(2)} ms`);
    assert.equal(await isMounted(t), false);
  });
});
