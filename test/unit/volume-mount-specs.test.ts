import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  mountView,
  parseApiMount,
  parseBindSpec,
  parseVolumesFrom,
  planMounts,
  specMountsFor,
  tmpfsOptions,
  validMountMode,
  type ContainerMount,
  type MountRequest,
} from '../../src/engine/volumes/mount-specs.js';

const none: MountRequest = { binds: [], mounts: [], volumes: [], tmpfs: {}, volumesFrom: [] };
const noContainers = { mountsOf: (c: string): ContainerMount[] => { throw new Error(`No such container: ${c}`); }, exists: () => true };

test('-v forms: named volume, anonymous volume, host bind with modes', () => {
  const named = parseBindSpec('data:/d');
  assert.equal(named.type, 'volume');
  assert.equal(named.name, 'data');
  assert.equal(named.mode, 'z');
  assert.equal(named.copyData, true);
  assert.equal(named.named, true);

  const nocopy = parseBindSpec('data:/d:ro,nocopy');
  assert.equal(nocopy.readOnly, true);
  assert.equal(nocopy.copyData, false);
  assert.equal(nocopy.mode, 'ro,nocopy');

  const anon = parseBindSpec('/only');
  assert.equal(anon.type, 'volume');
  assert.equal(anon.name, '');
  assert.equal(anon.named, false);

  const bind = parseBindSpec('/host/dir/:/in:ro,rshared');
  assert.equal(bind.type, 'bind');
  assert.equal(bind.source, '/host/dir/');
  assert.equal(bind.readOnly, true);
  assert.equal(bind.propagation, 'rshared');
  assert.equal(bind.createHostPath, true);
  assert.equal(parseBindSpec('/h:/in').propagation, 'rprivate');
  assert.equal(parseBindSpec('/h:/in').mode, '');
});

test('-v errors carry Docker\'s messages', () => {
  assert.throws(() => parseBindSpec('a:b:c:d'), /^Error: invalid volume specification: 'a:b:c:d'$|invalid volume specification: 'a:b:c:d'$/);
  assert.throws(() => parseBindSpec(':/x'), /invalid volume specification: ':\/x'/);
  assert.throws(() => parseBindSpec('v:/x:bogus'), /^.*invalid mode: bogus$/);
  assert.throws(() => parseBindSpec('v:/x:ro,rw'), /invalid mode: ro,rw/);
  assert.throws(() => parseBindSpec('v:rel'), /invalid volume specification: 'v:rel': invalid mount config for type "volume": invalid mount path: 'rel' mount path must be absolute/);
  assert.throws(() => parseBindSpec('v:/'), /destination can't be '\/'/);
  assert.throws(() => parseBindSpec('/x:ro'), /must not set ReadOnly mode when using anonymous volumes/);
  assert.throws(() => parseBindSpec('v:/x:shared'), /field BindOptions must not be specified/);
  assert.throws(() => parseBindSpec('/h:/x:nocopy'), /field VolumeOptions must not be specified/);
  assert.throws(() => parseBindSpec('a@b:/x'), /create a@b: "a@b" includes invalid characters for a local volume name/);
  assert.throws(() => parseBindSpec('a:/x'), /create a: volume name is too short/);
});

test('mount modes: one word of each kind', () => {
  assert.equal(validMountMode(''), true);
  assert.equal(validMountMode('ro,Z,rslave,nocopy,cached'), true);
  assert.equal(validMountMode('z,Z'), false);
  assert.equal(validMountMode('shared,private'), false);
  assert.equal(validMountMode('rw,'), false);
});

test('--mount objects: bind, volume, tmpfs and their errors', () => {
  const exists = (p: string): boolean => p === '/there';
  const bind = parseApiMount({ Type: 'bind', Source: '/there', Target: '/t', ReadOnly: true, BindOptions: { Propagation: 'rslave' } }, exists);
  assert.deepEqual(mountView(bind), { Type: 'bind', Source: '/there', Destination: '/t', Mode: '', RW: false, Propagation: 'rslave' });
  assert.throws(() => parseApiMount({ Type: 'bind', Source: '/x', Target: '/t' }, exists), /^Error: invalid mount config for type "bind": bind source path does not exist: \/x$|invalid mount config for type "bind": bind source path does not exist: \/x$/);
  assert.throws(() => parseApiMount({ Type: 'bind', Target: '/t' }, exists), /invalid mount config for type "bind": field Source must not be empty/);
  assert.throws(() => parseApiMount({ Type: 'bind', Source: '/there', Target: '/t', BindOptions: { Propagation: 'sideways' } }, exists), /invalid propagation mode: sideways/);
  assert.throws(() => parseApiMount({ Type: 'volume', Source: 'v1' }, exists), /invalid mount config for type "volume": field Target must not be empty/);
  assert.throws(() => parseApiMount({ Type: 'tmpfs', Source: 'x', Target: '/t' }, exists), /field Source must not be specified/);
  assert.throws(() => parseApiMount({ Type: 'npipe', Target: '/t' }, exists), /invalid mount config for type "npipe": mount type unknown/);

  const vol = parseApiMount({ Type: 'volume', Source: 'v1', Target: '/v', VolumeOptions: { NoCopy: true, DriverConfig: { Options: { type: 'tmpfs', device: 'tmpfs' } } } }, exists);
  assert.equal(vol.copyData, false);
  assert.equal(vol.mode, '');
  assert.deepEqual(vol.volumeCreate, { driver: 'local', driverOpts: { type: 'tmpfs', device: 'tmpfs' }, labels: null });

  const tmp = parseApiMount({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 10 * 1024 * 1024, Mode: 0o1777 } }, exists);
  assert.deepEqual(tmp.tmpfsOptions, ['size=10m', 'mode=1777']);
  assert.deepEqual(tmpfsOptions({ SizeBytes: 1000 }, true), ['ro', 'size=1000']);
  assert.deepEqual(tmpfsOptions({ SizeBytes: 3 * 2 ** 30 }, false), ['size=3g']);
});

test('--volumes-from specs', () => {
  assert.deepEqual(parseVolumesFrom('c1'), { container: 'c1', mode: 'rw' });
  assert.deepEqual(parseVolumesFrom('c1:ro'), { container: 'c1', mode: 'ro' });
  assert.throws(() => parseVolumesFrom('c1:rshared'), /invalid mode: rshared/);
  assert.throws(() => parseVolumesFrom('c1:nocopy'), /invalid mode: nocopy/);
  assert.throws(() => parseVolumesFrom(''), /cannot be an empty string/);
});

test('planMounts: volumes-from, then binds, then --mount; Config.Volumes only where nothing is mounted', () => {
  const from: ContainerMount[] = [
    { type: 'volume', destination: '/shared', source: '/vols/s/_data', name: 's', driver: 'local', readOnly: false, mode: 'z', propagation: '', copyData: true, named: true },
    { type: 'volume', destination: '/over', source: '/vols/o/_data', name: 'o', driver: 'local', readOnly: false, mode: '', propagation: '', copyData: true, named: false },
  ];
  const plan = planMounts(
    { binds: ['/h:/over'], mounts: [{ Type: 'tmpfs', Target: '/tm' }], volumes: ['/shared', '/fresh', '/run'], tmpfs: { '/run': '' }, volumesFrom: ['src:ro'] },
    { mountsOf: () => from, exists: () => true },
  );
  assert.deepEqual(plan.map((m) => [m.destination, m.type, m.readOnly]), [
    ['/fresh', 'volume', false],
    ['/over', 'bind', false],
    ['/shared', 'volume', true],
    ['/tm', 'tmpfs', false],
  ]);
  const shared = plan.find((m) => m.destination === '/shared')!;
  assert.equal(shared.copyData, false, 'volumes-from never copies up');
  assert.equal(plan.find((m) => m.destination === '/fresh')!.name, '');

  assert.throws(() => planMounts({ ...none, binds: ['a1:/x', 'b1:/x'] }, noContainers), /Duplicate mount point: \/x/);
  assert.throws(() => planMounts({ ...none, binds: ['a1:/x'], mounts: [{ Type: 'volume', Target: '/x' }] }, noContainers), /Duplicate mount point: \/x/);
  assert.throws(() => planMounts({ ...none, volumesFrom: ['ghost'] }, noContainers), /No such container: ghost/);
});

test('inspect views and OCI mounts', () => {
  const vol: ContainerMount = { type: 'volume', destination: '/d', source: '/vols/v/_data', name: 'v', driver: 'local', readOnly: true, mode: 'ro', propagation: '', copyData: true, named: true };
  assert.equal(JSON.stringify(mountView(vol)), '{"Type":"volume","Name":"v","Source":"/vols/v/_data","Destination":"/d","Driver":"local","Mode":"ro","RW":false,"Propagation":""}');
  const bind = parseBindSpec('/h:/b:rslave');
  const tmp = parseApiMount({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1 << 20 } }, () => true);
  assert.deepEqual(specMountsFor([vol, bind, tmp]), [
    { destination: '/d', type: 'bind', source: '/vols/v/_data', options: ['rbind', 'rprivate', 'ro'] },
    { destination: '/b', type: 'bind', source: '/h', options: ['rbind', 'rslave'] },
    { destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'rprivate', 'size=1m'] },
  ]);
});
