import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MetadataDb } from '../../src/store/db.js';
import { ImageRecords, type ImageRecord, type LayerRecord } from '../../src/store/image-records.js';
import { chainIds } from '../../src/store/layer-tar.js';
import { sha256Digest, type Digest } from '../../src/util/digest.js';

function layer(chainId: Digest, diffId: Digest, parent: Digest | null, extra: Partial<LayerRecord> = {}): LayerRecord {
  return {
    chainId,
    diffId,
    parent,
    size: 100,
    diffSize: 120,
    blobDigest: null,
    blobMediaType: null,
    blobSize: null,
    createdAt: 1000,
    ...extra,
  };
}

describe('ImageRecords', () => {
  let db: MetadataDb;
  let rec: ImageRecords;
  const diffs = [sha256Digest('diff 0'), sha256Digest('diff 1'), sha256Digest('diff 2')];
  const chains = chainIds(diffs);
  const configA = '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}}';
  const configB = '{"architecture":"arm64", "os":"linux"}';
  const idA = sha256Digest(configA);
  const idB = sha256Digest(configB);

  const image = (id: Digest, config: string, layers: Digest[], extra: Partial<ImageRecord> = {}): ImageRecord => ({
    id,
    config,
    topLayer: layers[layers.length - 1] ?? null,
    size: 300,
    createdAt: 2000,
    doc: {},
    layers,
    ...extra,
  });

  beforeEach(() => {
    db = MetadataDb.open(':memory:');
    rec = new ImageRecords(db);
    rec.putLayer(layer(chains[0], diffs[0], null, { blobDigest: sha256Digest('blob 0'), blobMediaType: 'gzip', blobSize: 50 }));
    rec.putLayer(layer(chains[1], diffs[1], chains[0]));
    rec.putLayer(layer(chains[2], diffs[2], chains[1]));
  });
  afterEach(() => db.close());

  it('stores and reads layers; putLayer ignores a duplicate', () => {
    assert.deepEqual(rec.getLayer(chains[0]), {
      chainId: chains[0],
      diffId: diffs[0],
      parent: null,
      size: 100,
      diffSize: 120,
      blobDigest: sha256Digest('blob 0'),
      blobMediaType: 'gzip',
      blobSize: 50,
      createdAt: 1000,
    });
    rec.putLayer(layer(chains[0], diffs[0], null, { size: 999 }));
    assert.equal(rec.getLayer(chains[0])?.size, 100);
    assert.equal(rec.getLayer(sha256Digest('nope')), undefined);
    assert.deepEqual(
      rec.listLayers().map((l) => l.chainId).sort(),
      [...chains].sort(),
    );
  });

  it('refuses a layer whose parent is unknown', () => {
    assert.throws(() => rec.putLayer(layer(sha256Digest('orphan'), diffs[0], sha256Digest('missing parent'))), /FOREIGN KEY/);
  });

  it('remembers blobs for layers and finds layers by blob', () => {
    const blob = sha256Digest('blob 1');
    assert.equal(rec.findLayerByBlob(blob), undefined);
    rec.setLayerBlob(chains[1], blob, 'application/vnd.oci.image.layer.v1.tar+zstd', 77);
    const found = rec.findLayerByBlob(blob);
    assert.equal(found?.chainId, chains[1]);
    assert.equal(found?.blobMediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
    assert.equal(found?.blobSize, 77);
  });

  it('stores images with their layer lists and replaces them on a second put', () => {
    rec.putImage(image(idA, configA, chains, { doc: { manifests: { 'docker.io/library/a': 'x' } } }));
    const got = rec.getImage(idA);
    assert.deepEqual(got, image(idA, configA, chains, { doc: { manifests: { 'docker.io/library/a': 'x' } } }));
    assert.equal(got?.config, configA, 'config kept byte for byte');

    rec.putImage(image(idA, configA, chains.slice(0, 2), { size: 200 }));
    const replaced = rec.getImage(idA);
    assert.deepEqual(replaced?.layers, chains.slice(0, 2));
    assert.equal(replaced?.size, 200);
    assert.equal(replaced?.topLayer, chains[1]);
  });

  it('putImage is all or nothing', () => {
    assert.throws(() => rec.putImage(image(idA, configA, [chains[0], sha256Digest('unknown layer')])), /FOREIGN KEY/);
    assert.equal(rec.getImage(idA), undefined);
  });

  it('counts layer users and lists images', () => {
    rec.putImage(image(idA, configA, chains));
    rec.putImage(image(idB, configB, chains.slice(0, 1), { createdAt: 3000 }));
    assert.equal(rec.layerUsers(chains[0]), 2);
    assert.equal(rec.layerUsers(chains[2]), 1);
    const all = rec.listImages();
    assert.deepEqual(
      all.map((i) => [i.id, i.layers.length]),
      [
        [idA, 3],
        [idB, 1],
      ],
    );
  });

  it('updates an image doc', () => {
    rec.putImage(image(idA, configA, chains));
    rec.updateImageDoc(idA, { note: 'hello', nested: { n: 1 } });
    assert.deepEqual(rec.getImage(idA)?.doc, { note: 'hello', nested: { n: 1 } });
  });

  it('finds images by ID prefix, with or without sha256:', () => {
    rec.putImage(image(idA, configA, chains));
    rec.putImage(image(idB, configB, []));
    const hexA = idA.slice(7);
    assert.deepEqual(rec.findImageByIdPrefix(hexA.slice(0, 6)).map((i) => i.id), [idA]);
    assert.deepEqual(rec.findImageByIdPrefix(`sha256:${hexA.slice(0, 12)}`).map((i) => i.id), [idA]);
    assert.deepEqual(rec.findImageByIdPrefix(hexA).map((i) => i.id), [idA]);
    assert.equal(rec.findImageByIdPrefix('').length, 0);
    assert.equal(rec.findImageByIdPrefix('xyz').length, 0);
    assert.equal(rec.findImageByIdPrefix("' OR 1=1 --").length, 0);
    // Another ID sharing the first 10 hex digits: a short prefix matches both, a longer one only one.
    const twin = `sha256:${hexA.slice(0, 10)}${hexA[10] === '0' ? '1' : '0'}${'0'.repeat(53)}` as Digest;
    rec.putImage(image(twin, configB, []));
    assert.deepEqual(rec.findImageByIdPrefix(hexA.slice(0, 10)).map((i) => i.id).sort(), [idA, twin].sort());
    assert.deepEqual(rec.findImageByIdPrefix(hexA.slice(0, 11)).map((i) => i.id), [idA]);
  });

  it('moves tags between images and reports where they pointed', () => {
    rec.putImage(image(idA, configA, chains));
    rec.putImage(image(idB, configB, []));
    const name = 'docker.io/library/busybox:latest';
    assert.equal(rec.tag(name, idA), undefined);
    assert.equal(rec.resolveTag(name), idA);
    assert.equal(rec.tag(name, idB), idA);
    assert.equal(rec.resolveTag(name), idB);
    assert.deepEqual(rec.tagsOf(idA), []);
    rec.tag('docker.io/library/busybox:1', idB);
    assert.deepEqual(rec.tagsOf(idB), ['docker.io/library/busybox:1', name]);
    assert.deepEqual(rec.allTags(), [
      { name: 'docker.io/library/busybox:1', imageId: idB },
      { name, imageId: idB },
    ]);
    assert.equal(rec.untag(name), true);
    assert.equal(rec.untag(name), false);
    assert.equal(rec.resolveTag(name), undefined);
  });

  it('refuses a tag for an unknown image', () => {
    assert.throws(() => rec.tag('docker.io/library/x:latest', idA), /FOREIGN KEY/);
  });

  it('records manifest digests per repository', () => {
    rec.putImage(image(idA, configA, chains));
    const m1 = sha256Digest('manifest 1');
    rec.addDigest('docker.io/library/busybox', m1, idA, '{"m":1}');
    rec.addDigest('localhost:5000/busybox', m1, idA, '{"m":1}');
    assert.equal(rec.resolveDigest('docker.io/library/busybox', m1), idA);
    assert.equal(rec.resolveDigest('docker.io/library/other', m1), undefined);
    assert.deepEqual(rec.digestsOf(idA), [
      { repo: 'docker.io/library/busybox', digest: m1, manifest: '{"m":1}' },
      { repo: 'localhost:5000/busybox', digest: m1, manifest: '{"m":1}' },
    ]);
    rec.removeDigestsOf(idA, 'localhost:5000/busybox');
    assert.deepEqual(rec.digestsOf(idA).map((d) => d.repo), ['docker.io/library/busybox']);
    rec.removeDigestsOf(idA);
    assert.deepEqual(rec.digestsOf(idA), []);
  });

  it('deleteImage removes tags, digests and layer list but keeps the layers', () => {
    rec.putImage(image(idA, configA, chains));
    rec.putImage(image(idB, configB, chains.slice(0, 1)));
    rec.tag('docker.io/library/a:latest', idA);
    rec.tag('docker.io/library/b:latest', idB);
    rec.addDigest('docker.io/library/a', sha256Digest('ma'), idA, '{}');
    rec.deleteImage(idA);
    assert.equal(rec.getImage(idA), undefined);
    assert.equal(rec.resolveTag('docker.io/library/a:latest'), undefined);
    assert.equal(rec.resolveDigest('docker.io/library/a', sha256Digest('ma')), undefined);
    assert.equal(rec.resolveTag('docker.io/library/b:latest'), idB);
    assert.equal(rec.layerUsers(chains[2]), 0);
    assert.equal(rec.layerUsers(chains[0]), 1);
    assert.ok(rec.getLayer(chains[2]));
  });

  it('deleteLayer works top down once unused, and refuses while referenced', () => {
    rec.putImage(image(idA, configA, chains));
    assert.throws(() => rec.deleteLayer(chains[2]), /FOREIGN KEY/);
    rec.deleteImage(idA);
    assert.throws(() => rec.deleteLayer(chains[0]), /FOREIGN KEY/, 'a child layer still refers to it');
    rec.deleteLayer(chains[2]);
    rec.deleteLayer(chains[1]);
    rec.deleteLayer(chains[0]);
    assert.deepEqual(rec.listLayers(), []);
  });
});
