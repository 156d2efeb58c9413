import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { buildBenchImage, imageSizes } from '../../bench/lib/bench-image.js';
import { readRssKiB } from '../../bench/lib/engines.js';
import { fmtRatio, fmtSeconds, max, median, min, renderTable } from '../../bench/lib/stats.js';
import { sha256Digest } from '../../src/util/digest.js';

describe('bench stats', () => {
  it('computes median, min and max', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
    assert.equal(min([3, 1, 2]), 1);
    assert.equal(max([3, 1, 2]), 3);
  });

  it('renders an aligned table', () => {
    const t = renderTable(['engine', 'median'], [
      ['berthd', fmtSeconds(1.5)],
      ['dockerd', fmtSeconds(12.25)],
    ]);
    assert.equal(t, ['engine    median', '-------  -------', 'berthd    1.50 s', 'dockerd  12.25 s'].join('\n'));
    assert.equal(fmtRatio(NaN), '-');
    assert.equal(fmtRatio(1.234), '1.23x');
  });

  it('reads the RSS of this process', async () => {
    const kib = await readRssKiB(process.pid);
    assert.ok(kib !== undefined && kib > 1024);
    assert.equal(await readRssKiB(2 ** 22 + 1), undefined);
  });
});

describe('bench image', () => {
  it('is reproducible, has the asked layer sizes and compresses about 2x', async () => {
    const opts = { layerMiB: [1, 2], filesPerLayer: 3, seed: 7 };
    const a = await buildBenchImage(opts);
    const b = await buildBenchImage(opts);
    assert.equal(a.manifestDigest, b.manifestDigest);
    assert.notEqual((await buildBenchImage({ ...opts, seed: 8 })).manifestDigest, a.manifestDigest);
    assert.equal(a.layers.length, 2);
    for (const l of a.layers) {
      assert.deepEqual(gunzipSync(l.blob), l.tar);
      assert.equal(l.diffId, sha256Digest(l.tar));
    }
    const { uncompressed, compressed } = imageSizes(a);
    // 3 MiB of file content plus tar headers and padding.
    assert.ok(uncompressed >= 3 * 1024 * 1024 && uncompressed < 3 * 1024 * 1024 + 64 * 1024, String(uncompressed));
    const ratio = uncompressed / compressed;
    assert.ok(ratio > 1.5 && ratio < 2.6, `gzip ratio ${ratio}`);
  });
});
