import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateDriverOpts, volumeMatches } from '../../src/engine/volumes/volume-service.js';
import { labelsMatch } from '../../src/engine/images/filters.js';
import { sharedSizes } from '../../src/engine/volumes/disk-usage.js';
import { dfSummary } from '../../src/cli/commands/system.js';

const vol = { name: 'web-data', driver: 'local', labels: { team: 'a', tier: '' }, refCount: 0 };
const f = (entries: Array<[string, string[]]>): Map<string, string[]> => new Map(entries);

test('volume list filters: name as a pattern, driver, label, dangling', () => {
  assert.equal(volumeMatches(vol, f([['name', ['web']]])), true);
  assert.equal(volumeMatches(vol, f([['name', ['^data']]])), false);
  assert.equal(volumeMatches(vol, f([['driver', ['local']]])), true);
  assert.equal(volumeMatches(vol, f([['driver', ['nfs']]])), false);
  assert.equal(volumeMatches(vol, f([['label', ['team=a', 'tier']]])), true);
  assert.equal(volumeMatches(vol, f([['label', ['team=b']]])), false);
  assert.equal(volumeMatches(vol, f([['dangling', ['true']]])), true);
  assert.equal(volumeMatches({ ...vol, refCount: 2 }, f([['dangling', ['1']]])), false);
  assert.equal(volumeMatches({ ...vol, refCount: 2 }, f([['dangling', ['false']]])), true);
  assert.throws(() => volumeMatches(vol, f([['dangling', ['maybe']]])), /invalid filter 'dangling=maybe'/);
  assert.throws(() => volumeMatches(vol, f([['color', ['red']]])), /invalid filter 'color'/);
});

test('labels: a key alone means present, key=value means equal', () => {
  assert.equal(labelsMatch(null, []), true);
  assert.equal(labelsMatch(null, ['a']), false);
  assert.equal(labelsMatch({ a: '' }, ['a=']), true);
  assert.equal(labelsMatch({ a: 'x=y' }, ['a=x=y']), true);
});

test('local driver options as moby checks them', () => {
  validateDriverOpts({ type: 'tmpfs', device: 'tmpfs', o: 'size=10m' });
  validateDriverOpts(null);
  assert.throws(() => validateDriverOpts({ foo: 'bar' }), /invalid option: "foo"/);
  assert.throws(() => validateDriverOpts({ type: 'tmpfs' }), /missing required option: "device"/);
  assert.throws(() => validateDriverOpts({ o: 'bind' }), /missing required option: "device"/);
});

test('shared sizes count layers used by more than one image once in LayersSize', () => {
  const layers = new Map([['l1', 100], ['l2', 20], ['l3', 5]]);
  const { shared, layersSize } = sharedSizes(new Map([['a', ['l1', 'l2']], ['b', ['l1', 'l3']]]), layers);
  assert.equal(layersSize, 125);
  assert.equal(shared.get('a'), 100);
  assert.equal(shared.get('b'), 100);
});

test('system df summary: active counts and reclaimable as docker computes them', () => {
  const rows = dfSummary({
    LayersSize: 1000,
    Images: [
      { Id: 'a', Created: 0, Size: 600, SharedSize: 100, Containers: 1 },
      { Id: 'b', Created: 0, Size: 500, SharedSize: 100, Containers: 0 },
    ],
    Containers: [
      { Id: 'c1', Created: 0, State: 'running', SizeRw: 30 },
      { Id: 'c2', Created: 0, State: 'exited', SizeRw: 10 },
    ],
    Volumes: [
      { Name: 'v1', Driver: 'local', Mountpoint: '', UsageData: { Size: 2000, RefCount: 1 } },
      { Name: 'v2', Driver: 'local', Mountpoint: '', UsageData: { Size: 1000, RefCount: 0 } },
    ],
    BuildCache: [],
  });
  const text = rows.map((r) => [r.Type, r.TotalCount, r.Active, r.Size, r.Reclaimable].join('|'));
  assert.deepEqual(text, [
    'Images|2|1|1kB|500B (50%)',
    'Containers|2|1|40B|10B (25%)',
    'Local Volumes|2|1|3kB|1kB (33%)',
    'Build Cache|0|0|0B|0B',
  ]);
});
