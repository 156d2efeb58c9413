import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupAttachWarmer, ownCgroupProcsFile } from '../../src/runtime/cgroup-attach-warmer.js';

const HYBRID_CGROUP = ['12:pids:/user.slice', '9:name=systemd:/user.slice/session-1.scope', '3:cpu,cpuacct:/user.slice', '0::/user.slice/session-1.scope', ''].join('\n');
const HYBRID_MOUNTINFO = [
  '25 24 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
  '26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate',
  '27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd',
  '30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct',
  '31 25 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,pids',
].join('\n');

test('the cgroup.procs of our own cgroup: v2 first on a hybrid host', () => {
  assert.equal(ownCgroupProcsFile(HYBRID_CGROUP, HYBRID_MOUNTINFO), '/sys/fs/cgroup/unified/user.slice/session-1.scope/cgroup.procs');
});

test('v1 only: the first hierarchy whose mount carries the controllers', () => {
  const cg = ['12:pids:/berth', '3:cpu,cpuacct:/a b', ''].join('\n');
  const mi = HYBRID_MOUNTINFO.split('\n').filter((l) => !l.includes('cgroup2')).join('\n').replace('/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/cpu\\054cpuacct');
  assert.equal(ownCgroupProcsFile(cg, mi), '/sys/fs/cgroup/pids/berth/cgroup.procs');
  assert.equal(ownCgroupProcsFile('3:cpu,cpuacct:/a b\n', mi), '/sys/fs/cgroup/cpu,cpuacct/a b/cgroup.procs');
});

test('unified v2 host, and a mount whose root does not contain our cgroup', () => {
  const mi = '30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot';
  assert.equal(ownCgroupProcsFile('0::/system.slice/berthd.service\n', mi), '/sys/fs/cgroup/system.slice/berthd.service/cgroup.procs');
  assert.equal(ownCgroupProcsFile('0::/\n', mi), '/sys/fs/cgroup/cgroup.procs');
  const nested = '30 23 0:26 /system.slice/other /sys/fs/cgroup rw - cgroup2 cgroup2 rw';
  assert.equal(ownCgroupProcsFile('0::/system.slice/berthd.service\n', nested), undefined);
  assert.equal(ownCgroupProcsFile('0::/x\n', ''), undefined);
});

/** Reads until the file says `want` (a read may fall between a write's truncation and its data). */
async function eventually(file: string, want: string, ms = 200): Promise<string> {
  const end = Date.now() + ms;
  let text = '';
  while (Date.now() < end) {
    text = await readFile(file, 'utf8');
    if (text === want) return text;
    await new Promise((r) => setTimeout(r, 2));
  }
  return text;
}

test('keepWarm writes our pid again and again for the time asked, then stops', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-warm-'));
  try {
    const file = join(dir, 'cgroup.procs');
    await writeFile(file, '');
    const warmer = new CgroupAttachWarmer(file, 4242);
    warmer.keepWarm(40);
    assert.equal(await eventually(file, '4242'), '4242');
    const during = (await stat(file)).mtimeMs;
    await new Promise((r) => setTimeout(r, 80));
    const settled = (await stat(file)).mtimeMs;
    assert.ok(settled > during, 'rewritten while warm');
    await writeFile(file, 'cold');
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(await readFile(file, 'utf8'), 'cold', 'no writes once the window has passed');
    warmer.keepWarm(20);
    assert.equal(await eventually(file, '4242'), '4242', 'a later request warms again');
  } finally {
    await new Promise((r) => setTimeout(r, 40));
    await rm(dir, { recursive: true, force: true });
  }
});

test('a write that fails turns warming off; no file means no warming at all', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-warm-'));
  try {
    const missing = join(dir, 'gone', 'cgroup.procs');
    const warmer = new CgroupAttachWarmer(missing, 1);
    warmer.keepWarm(30);
    await new Promise((r) => setTimeout(r, 50));
    await import('node:fs/promises').then((fs) => fs.mkdir(join(dir, 'gone')));
    warmer.keepWarm(30);
    await new Promise((r) => setTimeout(r, 20));
    await assert.rejects(stat(missing), /ENOENT/, 'disabled after the failure');
    new CgroupAttachWarmer(undefined).keepWarm(10);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('hold keeps the lock warm until released, whatever the time', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-warm-'));
  try {
    const file = join(dir, 'cgroup.procs');
    await writeFile(file, '');
    const warmer = new CgroupAttachWarmer(file, 77);
    const release = warmer.hold();
    assert.equal(await eventually(file, '77'), '77');
    await new Promise((r) => setTimeout(r, 30));
    await writeFile(file, 'xx');
    assert.equal(await eventually(file, '77'), '77', 'still held: written again');
    release();
    release();
    await new Promise((r) => setTimeout(r, 20));
    await writeFile(file, 'xx');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await readFile(file, 'utf8'), 'xx', 'released: no more writes');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
