import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/errors.js';
import {
  type ImageIndex,
  MediaType,
  formatPlatform,
  hostPlatform,
  layerCompression,
  parseImageConfig,
  parseManifestOrIndex,
  parsePlatform,
  selectPlatform,
} from '../../src/registry/manifest.js';
import { sha256Digest } from '../../src/util/digest.js';

const d1 = sha256Digest('one');
const d2 = sha256Digest('two');
const d3 = sha256Digest('three');

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

const manifestDoc = {
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  config: { mediaType: MediaType.OciConfig, digest: d1, size: 10 },
  layers: [{ mediaType: MediaType.OciLayerGzip, digest: d2, size: 20, annotations: { a: 'b' } }],
};

describe('parseManifestOrIndex', () => {
  it('parses an OCI manifest by Content-Type', () => {
    const p = parseManifestOrIndex(json(manifestDoc), `${MediaType.OciManifest}; charset=utf-8`);
    assert.equal(p.kind, 'manifest');
    assert.ok(p.kind === 'manifest');
    assert.equal(p.mediaType, MediaType.OciManifest);
    assert.equal(p.manifest.config.digest, d1);
    assert.equal(p.manifest.layers[0]!.size, 20);
    assert.deepEqual(p.manifest.layers[0]!.annotations, { a: 'b' });
  });

  it('falls back to the document\'s mediaType, then its shape', () => {
    const docker = { ...manifestDoc, mediaType: MediaType.DockerManifest };
    assert.equal(parseManifestOrIndex(json(docker), 'application/octet-stream').mediaType, MediaType.DockerManifest);
    const { mediaType: _dropped, ...bare } = manifestDoc;
    assert.equal(parseManifestOrIndex(json(bare), undefined).mediaType, MediaType.OciManifest);
    const index = { schemaVersion: 2, manifests: [] };
    assert.equal(parseManifestOrIndex(json(index), undefined).kind, 'index');
  });

  it('parses a manifest list with platforms', () => {
    const list = {
      schemaVersion: 2,
      mediaType: MediaType.DockerManifestList,
      manifests: [
        { mediaType: MediaType.DockerManifest, digest: d1, size: 1, platform: { architecture: 'arm', os: 'linux', variant: 'v7' } },
      ],
    };
    const p = parseManifestOrIndex(json(list), MediaType.DockerManifestList);
    assert.ok(p.kind === 'index');
    assert.deepEqual(p.index.manifests[0]!.platform, { architecture: 'arm', os: 'linux', variant: 'v7' });
  });

  it('rejects schema 1 with a clear "not supported"', () => {
    const s1 = { schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] };
    for (const ct of [MediaType.DockerSchema1SignedManifest, 'application/json', undefined]) {
      assert.throws(
        () => parseManifestOrIndex(json(s1), ct),
        (e: unknown) => e instanceof BerthError && /not supported/.test(e.message) && /schema 1/.test(e.message),
      );
    }
  });

  it('rejects malformed documents', () => {
    const bad: unknown[] = [
      'not json',
      { schemaVersion: 3 },
      { ...manifestDoc, config: { ...manifestDoc.config, digest: 'sha256:xyz' } },
      { ...manifestDoc, layers: [{ mediaType: MediaType.OciLayer, digest: d2, size: -1 }] },
      { ...manifestDoc, layers: 'nope' },
      { schemaVersion: 2, mediaType: MediaType.OciManifest },
    ];
    for (const b of bad) {
      const body = typeof b === 'string' ? Buffer.from(b) : json(b);
      assert.throws(() => parseManifestOrIndex(body, MediaType.OciManifest), BerthError, JSON.stringify(b));
    }
  });

  it('refuses a document whose mediaType contradicts the Content-Type', () => {
    const idx = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
    assert.throws(() => parseManifestOrIndex(json(idx), MediaType.OciManifest), /does not match/);
  });
});

describe('parseImageConfig', () => {
  const config = {
    architecture: 'amd64',
    os: 'linux',
    created: '2024-01-01T00:00:00Z',
    config: { Env: ['PATH=/bin'], Cmd: ['sh'], Labels: { a: 'b' } },
    rootfs: { type: 'layers', diff_ids: [d1, d2] },
    history: [{ created_by: 'x' }, { created_by: 'y', empty_layer: true }],
    docker_version: '24.0.0',
  };
  it('parses and keeps unknown fields', () => {
    const c = parseImageConfig(json(config));
    assert.deepEqual(c.rootfs.diff_ids, [d1, d2]);
    assert.deepEqual(c.config?.Cmd, ['sh']);
    assert.equal(c['docker_version'], '24.0.0');
    assert.equal(c.history?.length, 2);
  });
  it('accepts a config without layers (FROM scratch, no files)', () => {
    assert.deepEqual(parseImageConfig(json({ ...config, rootfs: { type: 'layers' } })).rootfs.diff_ids, []);
  });
  it('rejects bad rootfs and field types', () => {
    const bad = [
      { ...config, rootfs: undefined },
      { ...config, rootfs: { type: 'other', diff_ids: [] } },
      { ...config, rootfs: { type: 'layers', diff_ids: ['sha256:short'] } },
      { ...config, config: { Cmd: 'sh' } },
      { ...config, architecture: 5 },
    ];
    for (const b of bad) assert.throws(() => parseImageConfig(json(b)), BerthError, JSON.stringify(b));
  });
});

describe('layerCompression', () => {
  it('maps known layer types', () => {
    assert.equal(layerCompression(MediaType.DockerLayerGzip), 'gzip');
    assert.equal(layerCompression(MediaType.OciLayerGzip), 'gzip');
    assert.equal(layerCompression(MediaType.OciLayerZstd), 'zstd');
    assert.equal(layerCompression(MediaType.OciLayer), 'none');
  });
  it('throws for foreign and unknown types', () => {
    assert.throws(() => layerCompression(MediaType.DockerForeignLayer), /foreign/);
    assert.throws(() => layerCompression(MediaType.OciNondistributableLayerGzip), /foreign/);
    assert.throws(() => layerCompression('application/vnd.in-toto+json'), /unsupported layer media type/);
  });
});

describe('platforms', () => {
  it('reports the host as GOARCH', () => {
    const host = hostPlatform();
    assert.equal(host.os, 'linux');
    const expected: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: '386' };
    if (expected[process.arch]) assert.equal(host.architecture, expected[process.arch]);
    if (process.arch === 'arm64') assert.equal(host.variant, 'v8');
  });

  it('parses and formats platform strings', () => {
    assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.deepEqual(parsePlatform('linux/x86_64'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(parsePlatform('linux/aarch64'), { os: 'linux', architecture: 'arm64' });
    assert.deepEqual(parsePlatform('linux/armhf'), { os: 'linux', architecture: 'arm', variant: 'v7' });
    assert.deepEqual(parsePlatform('amd64'), { os: hostPlatform().os, architecture: 'amd64' });
    assert.equal(parsePlatform('linux').architecture, hostPlatform().architecture);
    assert.equal(formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' }), 'linux/arm/v7');
    assert.equal(formatPlatform(parsePlatform('linux/amd64')), 'linux/amd64');
    for (const bad of ['', 'linux/', 'a/b/c/d', 'notanarch', 'linux/*']) {
      assert.throws(() => parsePlatform(bad), BerthError, bad);
    }
  });

  const entry = (digest: typeof d1, architecture: string, variant?: string, os = 'linux') => ({
    mediaType: MediaType.OciManifest,
    digest,
    size: 1,
    platform: variant ? { os, architecture, variant } : { os, architecture },
  });

  it('picks the exact platform', () => {
    const index: ImageIndex = { schemaVersion: 2, manifests: [entry(d1, 'arm64', 'v8'), entry(d2, 'amd64')] };
    assert.equal(selectPlatform(index, { os: 'linux', architecture: 'amd64' })?.digest, d2);
    assert.equal(selectPlatform(index, { os: 'linux', architecture: 'arm64' })?.digest, d1);
    assert.equal(selectPlatform(index, { os: 'linux', architecture: 'arm64', variant: 'v8' })?.digest, d1);
    assert.equal(selectPlatform(index, { os: 'windows', architecture: 'amd64' }), undefined);
    assert.equal(selectPlatform(index, { os: 'linux', architecture: 'riscv64' }), undefined);
  });

  it('treats arm64 without a variant as v8, and x86_64 as amd64', () => {
    const index: ImageIndex = { schemaVersion: 2, manifests: [entry(d1, 'aarch64'), entry(d2, 'x86_64')] };
    assert.equal(selectPlatform(index, { os: 'linux', architecture: 'arm64', variant: 'v8' })?.digest, d1);
    assert.equal(selectPlatform(index, { os: 'linux', architecture: 'amd64' })?.digest, d2);
  });

  it('falls back to what the host can still run, best first', () => {
    const armOnly: ImageIndex = { schemaVersion: 2, manifests: [entry(d1, 'arm', 'v6'), entry(d2, 'arm', 'v7')] };
    assert.equal(selectPlatform(armOnly, { os: 'linux', architecture: 'arm64' })?.digest, d2);
    assert.equal(selectPlatform(armOnly, { os: 'linux', architecture: 'arm', variant: 'v7' })?.digest, d2);
    assert.equal(selectPlatform(armOnly, { os: 'linux', architecture: 'arm', variant: 'v6' })?.digest, d1);
    const i386: ImageIndex = { schemaVersion: 2, manifests: [entry(d3, '386')] };
    assert.equal(selectPlatform(i386, { os: 'linux', architecture: 'amd64' })?.digest, d3);
    const levels: ImageIndex = { schemaVersion: 2, manifests: [entry(d1, 'amd64'), entry(d2, 'amd64', 'v3')] };
    assert.equal(selectPlatform(levels, { os: 'linux', architecture: 'amd64' })?.digest, d1);
    assert.equal(selectPlatform(levels, { os: 'linux', architecture: 'amd64', variant: 'v3' })?.digest, d2);
    assert.equal(selectPlatform(levels, { os: 'linux', architecture: 'amd64', variant: 'v2' })?.digest, d1);
  });

  it('ignores attestations and entries without a platform', () => {
    const index: ImageIndex = {
      schemaVersion: 2,
      manifests: [
        { mediaType: MediaType.OciManifest, digest: d1, size: 1 },
        entry(d2, 'unknown', undefined, 'unknown'),
        entry(d3, 'amd64'),
      ],
    };
    assert.equal(selectPlatform(index, { os: 'linux', architecture: 'amd64' })?.digest, d3);
  });
});
