import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheKey } from '../../src/engine/build/build-cache.js';
import { cleanSource, componentPattern, parentDirsOf, planCopy, resolveDest } from '../../src/engine/build/copy-layer.js';

test('cache keys change with the parent, the step text and the extras, and only with them', () => {
  const k = cacheKey('sha256:aa', '/bin/sh -c echo hi');
  assert.equal(k, cacheKey('sha256:aa', '/bin/sh -c echo hi'));
  assert.notEqual(k, cacheKey('sha256:ab', '/bin/sh -c echo hi'));
  assert.notEqual(k, cacheKey('sha256:aa', '/bin/sh -c echo ho'));
  assert.notEqual(k, cacheKey('sha256:aa', '/bin/sh -c echo hi', ['x']));
});

test('COPY dests: relative to WORKDIR, trailing slash or dot means a directory', () => {
  assert.deepEqual(resolveDest('x', '/app'), { path: '/app/x', endsInSlash: false });
  assert.deepEqual(resolveDest('.', '/app'), { path: '/app', endsInSlash: true });
  assert.deepEqual(resolveDest('dir/', '/'), { path: '/dir', endsInSlash: true });
  assert.deepEqual(resolveDest('/', '/app'), { path: '/', endsInSlash: true });
});

test('sources may not leave the context; patterns follow Go filepath.Match', () => {
  assert.throws(() => cleanSource('../etc/passwd'), /Forbidden path outside the build context: \.\.\/etc\/passwd/);
  assert.equal(cleanSource('./a/b/'), 'a/b');
  assert.equal(cleanSource('/a'), 'a');
  assert.ok(componentPattern('*.txt').test('a.txt'));
  assert.ok(!componentPattern('*.txt').test('a.txt.bak'));
  assert.ok(componentPattern('f?o').test('foo'));
  assert.ok(componentPattern('[a-c]x').test('bx'));
  assert.ok(!componentPattern('[!a-c]x').test('bx'));
});

test('planCopy: a file into an existing dir, dir contents, wildcards, ignored files and the multi-source rule', async () => {
  const root = await mkdtemp(join(tmpdir(), 'build-copy-'));
  try {
    await mkdir(join(root, 'src/sub'), { recursive: true });
    await writeFile(join(root, 'a.txt'), 'a');
    await writeFile(join(root, 'b.txt'), 'b');
    await writeFile(join(root, 'src/one'), '1');
    await writeFile(join(root, 'src/sub/two'), '22');
    await writeFile(join(root, 'secret'), 's');
    const base = { cmd: 'COPY' as const, root, workdir: '/w', fromContext: true, ignored: (rel: string) => rel === 'secret' };
    const intoDir = await planCopy({ ...base, sources: ['a.txt'], dest: '/etc', isDirInImage: async (p) => p === '/etc' });
    assert.deepEqual(intoDir.entries.map((e) => e.target), ['/etc/a.txt']);
    assert.match(intoDir.sourceHash, /^file:[0-9a-f]{64}$/);
    const asFile = await planCopy({ ...base, sources: ['a.txt'], dest: 'renamed', isDirInImage: async () => false });
    assert.deepEqual(asFile.entries.map((e) => e.target), ['/w/renamed']);
    assert.equal(asFile.entries[0].uid, 0);
    const dir = await planCopy({ ...base, sources: ['src'], dest: '/dst', isDirInImage: async () => false });
    assert.deepEqual(dir.entries.map((e) => e.target), ['/dst/one', '/dst/sub', '/dst/sub/two']);
    assert.match(dir.sourceHash, /^dir:/);
    const glob = await planCopy({ ...base, sources: ['*.txt'], dest: '/g/', isDirInImage: async () => false });
    assert.deepEqual(glob.entries.map((e) => e.target), ['/g/a.txt', '/g/b.txt']);
    assert.match(glob.sourceHash, /^multi:/);
    await assert.rejects(planCopy({ ...base, sources: ['*.txt'], dest: '/g', isDirInImage: async () => false }), /must be a directory and end with a \//);
    await assert.rejects(
      planCopy({ ...base, sources: ['secret'], dest: '/s', isDirInImage: async () => false }),
      /file not found in build context or excluded by \.dockerignore: stat secret: file does not exist/,
    );
    const before = intoDir.sourceHash;
    await writeFile(join(root, 'a.txt'), 'changed');
    const after = await planCopy({ ...base, sources: ['a.txt'], dest: '/etc', isDirInImage: async (p) => p === '/etc' });
    assert.notEqual(after.sourceHash, before);
    assert.deepEqual(parentDirsOf(dir.entries, '/dst'), ['/dst']);
    assert.deepEqual(parentDirsOf(asFile.entries, undefined), ['/w']);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
