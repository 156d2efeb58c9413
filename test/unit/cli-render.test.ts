import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { humanDuration, humanSize, humanSizeWithPrecision, bytesSize } from '../../src/cli/render/units.js';
import { tabwrite } from '../../src/cli/render/table.js';
import { displayJsonMessages, progressString } from '../../src/cli/render/progress.js';

test('sizes match go-units', () => {
  const cases: [number, string][] = [
    [0, '0B'],
    [999, '999B'],
    [999.5, '1e+03B'],
    [1000, '1kB'],
    [4261550, '4.26MB'],
    [1_200_000_000, '1.2GB'],
    [123_456_789, '123MB'],
    [999_500, '1e+03kB'],
  ];
  for (const [n, want] of cases) assert.equal(humanSizeWithPrecision(n, 3), want, String(n));
  assert.equal(humanSize(4261550), '4.262MB');
  assert.equal(humanSize(2_150_000), '2.15MB');
  assert.equal(bytesSize(8_344_223_744), '7.771GiB');
});

test('durations match go-units HumanDuration', () => {
  const s = 1000;
  const cases: [number, string][] = [
    [0, 'Less than a second'],
    [-5 * s, 'Less than a second'],
    [1 * s, '1 second'],
    [59 * s, '59 seconds'],
    [60 * s, 'About a minute'],
    [119 * s, 'About a minute'],
    [47 * 60 * s, '47 minutes'],
    [60 * 60 * s, 'About an hour'],
    [89 * 60 * s, 'About an hour'],
    [90 * 60 * s, '2 hours'],
    [47 * 3600 * s, '47 hours'],
    [48 * 3600 * s, '2 days'],
    [14 * 24 * 3600 * s, '2 weeks'],
    [60 * 24 * 3600 * s, '2 months'],
    [2 * 365 * 24 * 3600 * s, '2 years'],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms}ms`);
});

test('tabwriter: minwidth 10, padding 3, last cell unpadded, blocks per column', () => {
  assert.equal(tabwrite('A\tBB\tC\nlonger-value\tx\ty\n'), 'A              BB        C\nlonger-value   x         y\n');
  // a line without tabs breaks the column block
  assert.equal(tabwrite('a\tb\nno tabs here\nccccccccccccccc\td\n'), 'a         b\nno tabs here\nccccccccccccccc   d\n');
});

const pullMessages = [
  { status: 'Pulling from library/busybox', id: 'latest' },
  { status: 'Pulling fs layer', progressDetail: {}, id: 'aaa' },
  { status: 'Pulling fs layer', progressDetail: {}, id: 'bbb' },
  { status: 'Downloading', progressDetail: { current: 1_000_000, total: 2_000_000 }, progress: '[=>]', id: 'aaa' },
  { status: 'Pull complete', progressDetail: {}, id: 'aaa' },
  { status: 'Pull complete', progressDetail: {}, id: 'bbb' },
  { status: 'Digest: sha256:abc' },
  { status: 'Status: Downloaded newer image for busybox:latest' },
];

function streamOf(msgs: unknown[]): Readable {
  // split mid-object to prove the decoder reassembles messages
  const text = msgs.map((m) => JSON.stringify(m)).join('\r\n');
  return Readable.from([text.slice(0, 37), text.slice(37)]);
}

test('progress off a terminal: each status line once, no bars', async () => {
  let out = '';
  await displayJsonMessages(streamOf(pullMessages), { write: (s) => (out += s), isTTY: false });
  assert.equal(
    out,
    'latest: Pulling from library/busybox\n' +
      'aaa: Pulling fs layer\n' +
      'bbb: Pulling fs layer\n' +
      'aaa: Pull complete\n' +
      'bbb: Pull complete\n' +
      'Digest: sha256:abc\n' +
      'Status: Downloaded newer image for busybox:latest\n',
  );
});

test('progress on a terminal: per-layer lines redrawn in place with a bar', async () => {
  let out = '';
  await displayJsonMessages(streamOf(pullMessages.slice(0, 4)), { write: (s) => (out += s), isTTY: true, columns: 120 });
  const bar = '[' + '='.repeat(25) + '>' + ' '.repeat(25) + ']';
  assert.equal(
    out,
    'latest: Pulling from library/busybox\n' +
      '\n\x1b[1A\x1b[2K\raaa: Pulling fs layer \r\x1b[1B' +
      '\n\x1b[1A\x1b[2K\rbbb: Pulling fs layer \r\x1b[1B' +
      `\x1b[2A\x1b[2K\raaa: Downloading ${bar}      1MB/2MB\r\x1b[2B`,
  );
});

test('progress: narrow terminals get no bar; an error message throws; aux is returned', async () => {
  assert.equal(progressString({ current: 1_000_000, total: 2_000_000 }, 80, 0), '     1MB/2MB');
  let out = '';
  const aux = await displayJsonMessages(streamOf([{ status: 'x' }, { aux: { Digest: 'sha256:1', Size: 5 } }]), { write: (s) => (out += s) });
  assert.deepEqual(aux, [{ Digest: 'sha256:1', Size: 5 }]);
  assert.equal(out, 'x\n');
  await assert.rejects(
    displayJsonMessages(streamOf([{ status: 'a' }, { errorDetail: { message: 'manifest unknown' }, error: 'manifest unknown' }]), { write: () => true }),
    /^BerthError: manifest unknown$/,
  );
});
