import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeccompBpfCache } from '../../src/runtime/seccomp-cache.js';
import type { SeccompAction, Spec } from '../../src/runtime/oci-types.js';

const spec = (action: SeccompAction): Spec => ({
  ociVersion: '1.1.0',
  linux: { seccomp: { defaultAction: action, syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] } },
});

test('a compiled program is learned once and handed to later specs with the same profile only', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-seccomp-'));
  try {
    const state = join(dir, 'state');
    await import('node:fs/promises').then((fs) => fs.mkdir(state));
    const program = Buffer.alloc(16, 7);
    await writeFile(join(state, 'seccomp.bpf'), program);
    const cache = new SeccompBpfCache(join(dir, 'cache'), 'crun:1');
    const first = spec('SCMP_ACT_ERRNO');
    const key = await cache.apply(first);
    assert.ok(key, 'nothing cached yet: a key to learn under');
    assert.equal(first.annotations, undefined);
    await cache.learn(key, state);

    const second = spec('SCMP_ACT_ERRNO');
    assert.equal(await cache.apply(second), undefined);
    assert.equal(second.annotations?.['run.oci.seccomp_bpf_data'], program.toString('base64'));

    const other = spec('SCMP_ACT_KILL');
    assert.ok(await cache.apply(other), 'another profile is not served the first one\'s program');
    assert.equal(other.annotations, undefined);

    // A new daemon (same exec-root) finds the program on disk; another runtime build does not.
    const again = spec('SCMP_ACT_ERRNO');
    assert.equal(await new SeccompBpfCache(join(dir, 'cache'), 'crun:1').apply(again), undefined);
    assert.ok(again.annotations?.['run.oci.seccomp_bpf_data']);
    assert.ok(await new SeccompBpfCache(join(dir, 'cache'), 'crun:2').apply(spec('SCMP_ACT_ERRNO')));

    const none: Spec = { ociVersion: '1.1.0', linux: {} };
    assert.equal(await cache.apply(none), undefined, 'no seccomp: nothing to do');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a truncated program is not learned', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-seccomp-'));
  try {
    await writeFile(join(dir, 'seccomp.bpf'), Buffer.alloc(5));
    const cache = new SeccompBpfCache(join(dir, 'cache'), 'crun:1');
    const key = await cache.apply(spec('SCMP_ACT_ERRNO'));
    assert.ok(key);
    await cache.learn(key, dir);
    assert.ok(await cache.apply(spec('SCMP_ACT_ERRNO')), 'still not cached');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
