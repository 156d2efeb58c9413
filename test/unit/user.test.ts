import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BerthError } from '../../src/errors.js';
import { resolveInRoot, resolveUser, resolveUserFrom } from '../../src/runtime/user.js';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/bin/false',
  'www-data:x:33:33:www-data:/var/www:/bin/false',
  'alice:x:1000:1000::/home/alice:/bin/sh',
  'nobody:x:65534:65534:nobody:/home:/bin/false',
].join('\n');

const GROUP = [
  'root:x:0:',
  'wheel:x:10:root,alice',
  'staff:x:50:alice',
  'www-data:x:33:',
  'alice:x:1000:',
  'audio:x:29:',
  'nogroup:x:65534:',
].join('\n');

function invalid(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => err instanceof BerthError && err.code === 'invalid_argument' && err.message === message);
}

describe('resolveUserFrom', () => {
  const table: Array<[string, string[], { uid: number; gid: number; additionalGids: number[]; home: string }]> = [
    ['', [], { uid: 0, gid: 0, additionalGids: [0, 10], home: '/root' }],
    ['root', [], { uid: 0, gid: 0, additionalGids: [0, 10], home: '/root' }],
    ['alice', [], { uid: 1000, gid: 1000, additionalGids: [1000, 10, 50], home: '/home/alice' }],
    ['1000', [], { uid: 1000, gid: 1000, additionalGids: [1000, 10, 50], home: '/home/alice' }],
    ['alice:staff', [], { uid: 1000, gid: 50, additionalGids: [50], home: '/home/alice' }],
    ['www-data:0', [], { uid: 33, gid: 0, additionalGids: [0], home: '/var/www' }],
    ['4242', [], { uid: 4242, gid: 0, additionalGids: [0], home: '/' }],
    ['4242:4343', [], { uid: 4242, gid: 4343, additionalGids: [4343], home: '/' }],
    ['nobody', ['audio', '777', '29'], { uid: 65534, gid: 65534, additionalGids: [65534, 29, 777], home: '/home' }],
  ];
  for (const [user, groupAdd, want] of table) {
    it(`user ${JSON.stringify(user)} group-add ${JSON.stringify(groupAdd)}`, () => {
      assert.deepEqual(resolveUserFrom(PASSWD, GROUP, user, groupAdd), want);
    });
  }

  it("refuses unknown names with Docker's wording", () => {
    invalid(() => resolveUserFrom(PASSWD, GROUP, 'nobody2', []), 'unable to find user nobody2: no matching entries in passwd file');
    invalid(() => resolveUserFrom(PASSWD, GROUP, 'alice:nogroup2', []), 'unable to find group nogroup2: no matching entries in group file');
    invalid(() => resolveUserFrom(PASSWD, GROUP, 'alice', ['video']), 'Unable to find group video: no matching entries in group file');
    invalid(() => resolveUserFrom(undefined, undefined, 'alice', []), 'unable to find user alice: no matching entries in passwd file');
  });

  it('works without passwd/group files for numeric ids', () => {
    assert.deepEqual(resolveUserFrom(undefined, undefined, '', []), { uid: 0, gid: 0, additionalGids: [0], home: '/' });
    assert.deepEqual(resolveUserFrom(undefined, undefined, '5:6', ['7']), { uid: 5, gid: 6, additionalGids: [6, 7], home: '/' });
  });
});

describe('resolveUser in a rootfs', () => {
  let base: string;
  let rootfs: string;
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'berth-user-'));
    rootfs = join(base, 'rootfs');
    await mkdir(join(rootfs, 'etc'), { recursive: true });
    await mkdir(join(rootfs, 'data'), { recursive: true });
    // A passwd outside the root that a symlink tries to reach.
    await writeFile(join(base, 'passwd'), 'evil:x:0:0::/evil:/bin/sh\n');
    await writeFile(join(rootfs, 'data', 'passwd'), 'inside:x:7:7::/in:/bin/sh\n');
    await writeFile(join(rootfs, 'etc', 'group'), GROUP);
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('reads the files of the rootfs', async () => {
    await writeFile(join(rootfs, 'etc', 'passwd'), PASSWD);
    assert.deepEqual(await resolveUser(rootfs, 'alice', ['staff']), { uid: 1000, gid: 1000, additionalGids: [1000, 10, 50], home: '/home/alice' });
    await rm(join(rootfs, 'etc', 'passwd'));
  });

  it('does not follow a passwd symlink out of the root', async () => {
    // Relative escape: ../../passwd from /etc would be base/passwd on the host.
    await symlink('../../../passwd', join(rootfs, 'etc', 'passwd'));
    await assert.rejects(resolveUser(rootfs, 'evil', []), /unable to find user evil/);
    await rm(join(rootfs, 'etc', 'passwd'));
    // Absolute target: resolved inside the root.
    await symlink('/data/passwd', join(rootfs, 'etc', 'passwd'));
    assert.equal((await resolveUser(rootfs, 'inside', [])).uid, 7);
    await rm(join(rootfs, 'etc', 'passwd'));
    await symlink(join(base, 'passwd'), join(rootfs, 'etc', 'passwd'));
    await assert.rejects(resolveUser(rootfs, 'evil', []), /unable to find user evil/);
    await rm(join(rootfs, 'etc', 'passwd'));
  });

  it('resolves paths as if the rootfs were /', async () => {
    await symlink('/etc', join(rootfs, 'etclink'));
    assert.equal(await resolveInRoot(rootfs, '/etclink/../../../group'), join(rootfs, 'group'));
    assert.equal(await resolveInRoot(rootfs, '/etclink/group'), join(rootfs, 'etc', 'group'));
    await symlink('loop2', join(rootfs, 'loop1'));
    await symlink('loop1', join(rootfs, 'loop2'));
    await assert.rejects(resolveInRoot(rootfs, '/loop1'), /too many levels/);
  });
});
