import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, before, after } from 'node:test';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { getGlobalDispatcher } from 'undici';
import { decompress as zstdDecompress } from 'zstd-napi';
import { sha256Digest } from '../../src/util/digest.js';
import {
  type FileSpec,
  MEDIA_TYPES,
  buildImage,
  buildLayerTar,
  comparePaths,
  dockerSaveTar,
  fullImageName,
  pushImageRaw,
  pushMultiPlatformRaw,
} from '../support/oci-build.js';
import { buildBusyboxImage, busyboxApplets } from '../support/busybox-image.js';

interface ListedEntry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  linkname: string;
  content: Buffer;
}

async function listTar(buf: Buffer): Promise<ListedEntry[]> {
  const ex = tar.extract();
  const out: ListedEntry[] = [];
  const done = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      const h = entry.header;
      out.push({
        name: h.name,
        type: h.type,
        mode: h.mode,
        uid: h.uid,
        gid: h.gid,
        mtime: h.mtime.getTime(),
        linkname: h.linkname ?? '',
        content: Buffer.concat(chunks),
      });
    }
  })();
  ex.end(buf);
  await done;
  return out;
}

const sample = (): Map<string, FileSpec> =>
  new Map<string, FileSpec>([
    ['etc/motd', { type: 'file', content: 'hello\n', mode: 0o600 }],
    ['etc', { type: 'dir' }],
    ['bin/sh', { type: 'symlink', target: 'busybox' }],
    ['gone', { type: 'whiteout' }],
    ['etc/old', { type: 'whiteout' }],
    ['var', { type: 'opaque' }],
  ]);

describe('oci-build layer tars', () => {
  it('writes entries sorted with fixed metadata, whiteouts and opaque markers', async () => {
    const entries = await listTar(await buildLayerTar(sample()));
    assert.deepEqual(
      entries.map((e) => e.name),
      ['.wh.gone', 'bin/sh', 'etc/', 'etc/.wh.old', 'etc/motd', 'var/', 'var/.wh..wh..opq'],
    );
    const motd = entries.find((e) => e.name === 'etc/motd');
    assert.equal(motd?.content.toString(), 'hello\n');
    assert.equal(motd?.mode, 0o600);
    assert.equal(entries.find((e) => e.name === 'bin/sh')?.linkname, 'busybox');
    assert.ok(entries.every((e) => e.uid === 0 && e.gid === 0 && e.mtime === Date.parse('2024-01-01T00:00:00Z')));
  });

  it('is deterministic', async () => {
    const a = await buildImage({ layers: [sample()] });
    const b = await buildImage({ layers: [sample()] });
    assert.equal(a.manifestDigest, b.manifestDigest);
    assert.deepEqual(a.layers[0]?.blob, b.layers[0]?.blob);
  });

  it('orders paths depth-first so a directory precedes a sibling that sorts before "/"', () => {
    assert.deepEqual(['a-c', 'a/b', 'a'].sort(comparePaths), ['a', 'a/b', 'a-c']);
  });
});

describe('oci-build images', () => {
  it('computes digests, diff IDs and a docker schema2 manifest for gzip layers', async () => {
    const img = await buildImage({ layers: [sample()], config: { config: { Cmd: ['echo', 'hi'] } } });
    const layer = img.layers[0];
    assert.ok(layer);
    assert.deepEqual(gunzipSync(layer.blob), layer.tar);
    assert.equal(layer.diffId, sha256Digest(layer.tar));
    assert.equal(layer.digest, sha256Digest(layer.blob));
    assert.equal(img.manifestDigest, sha256Digest(img.manifest));
    const m = JSON.parse(img.manifest.toString()) as {
      mediaType: string;
      config: { digest: string; size: number; mediaType: string };
      layers: Array<{ digest: string; size: number; mediaType: string }>;
    };
    assert.equal(m.mediaType, MEDIA_TYPES.dockerManifest);
    assert.equal(m.config.digest, img.configDigest);
    assert.equal(m.config.size, img.config.length);
    assert.deepEqual(m.layers, [{ mediaType: MEDIA_TYPES.dockerLayerGzip, size: layer.blob.length, digest: layer.digest }]);
    const cfg = JSON.parse(img.config.toString()) as {
      architecture: string;
      os: string;
      config: { Cmd: string[]; Env: string[] };
      rootfs: { type: string; diff_ids: string[] };
      history: unknown[];
    };
    assert.equal(cfg.architecture, 'amd64');
    assert.equal(cfg.os, 'linux');
    assert.deepEqual(cfg.config.Cmd, ['echo', 'hi']);
    assert.ok(cfg.config.Env[0]?.startsWith('PATH='));
    assert.deepEqual(cfg.rootfs, { type: 'layers', diff_ids: [layer.diffId] });
    assert.equal(cfg.history.length, 1);
  });

  it('makes OCI manifests with zstd or uncompressed layers', async () => {
    const z = await buildImage({ layers: [sample()], compression: 'zstd', format: 'oci' });
    assert.equal(z.manifestMediaType, MEDIA_TYPES.ociManifest);
    assert.equal(z.layers[0]?.mediaType, MEDIA_TYPES.ociLayerZstd);
    assert.deepEqual(zstdDecompress(z.layers[0]?.blob ?? Buffer.alloc(0)), z.layers[0]?.tar);
    const plain = await buildImage({ layers: [sample()], compression: 'none', format: 'oci' });
    assert.equal(plain.layers[0]?.mediaType, MEDIA_TYPES.ociLayerTar);
    assert.equal(plain.layers[0]?.digest, plain.layers[0]?.diffId);
    assert.equal(z.layers[0]?.diffId, plain.layers[0]?.diffId);
  });
});

describe('busybox image', () => {
  it('has busybox, an applet link for every applet, passwd and a sticky /tmp', async () => {
    const img = await buildBusyboxImage();
    assert.equal(img, await buildBusyboxImage(), 'cached per process');
    const entries = await listTar(img.layers[0]?.tar ?? Buffer.alloc(0));
    const byName = new Map(entries.map((e) => [e.name, e]));
    assert.equal(byName.get('bin/busybox')?.type, 'file');
    assert.equal(byName.get('bin/busybox')?.mode, 0o755);
    const applets = await busyboxApplets();
    assert.ok(applets.includes('sh') && applets.length > 100);
    for (const a of applets) assert.equal(byName.get(`bin/${a}`)?.linkname, 'busybox', a);
    assert.match(byName.get('etc/passwd')?.content.toString() ?? '', /^root:x:0:0:root:\/root:\/bin\/sh$/m);
    assert.match(byName.get('etc/passwd')?.content.toString() ?? '', /^nobody:x:65534:65534:/m);
    assert.match(byName.get('etc/group')?.content.toString() ?? '', /^root:x:0:/m);
    assert.equal(byName.get('tmp/')?.mode, 0o1777);
    for (const d of ['dev/', 'home/', 'root/', 'usr/', 'var/']) assert.equal(byName.get(d)?.type, 'directory', d);
  });

  it('stacks extra layers on the busybox layer', async () => {
    const base = await buildBusyboxImage();
    const img = await buildBusyboxImage({ extraLayers: [new Map([['hello.txt', { type: 'file', content: 'hi' }]])] });
    assert.equal(img.layers.length, 2);
    assert.equal(img.layers[0]?.digest, base.layers[0]?.digest);
    const cfg = JSON.parse(img.config.toString()) as { rootfs: { diff_ids: string[] }; history: unknown[] };
    assert.equal(cfg.rootfs.diff_ids.length, 2);
    assert.equal(cfg.history.length, 2);
  });
});

describe('docker save archives', () => {
  it('has manifest.json, repositories and an OCI layout whose blobs match their digests', async () => {
    const img = await buildImage({ layers: [sample(), new Map([['x', { type: 'file', content: 'x' }]])] });
    const entries = await listTar(await dockerSaveTar(img, ['busybox:latest', 'example.com/a/b:v1']));
    const files = new Map(entries.filter((e) => e.type === 'file').map((e) => [e.name, e.content]));
    const manifestJson = JSON.parse(files.get('manifest.json')?.toString() ?? '') as Array<{ Config: string; RepoTags: string[]; Layers: string[] }>;
    assert.equal(manifestJson.length, 1);
    assert.deepEqual(manifestJson[0]?.RepoTags, ['busybox:latest', 'example.com/a/b:v1']);
    assert.deepEqual(
      manifestJson[0]?.Layers.map((p) => files.get(p)),
      img.layers.map((l) => l.tar),
    );
    assert.deepEqual(files.get(manifestJson[0]?.Config ?? ''), img.config);
    for (const [name, content] of files) {
      if (name.startsWith('blobs/sha256/')) assert.equal(sha256Digest(content), `sha256:${name.slice('blobs/sha256/'.length)}`);
    }
    const index = JSON.parse(files.get('index.json')?.toString() ?? '') as {
      manifests: Array<{ digest: string; annotations: Record<string, string> }>;
    };
    assert.deepEqual(
      index.manifests.map((m) => m.annotations['io.containerd.image.name']),
      ['docker.io/library/busybox:latest', 'example.com/a/b:v1'],
    );
    assert.ok(files.has(`blobs/sha256/${index.manifests[0]?.digest.slice(7)}`));
    const repos = JSON.parse(files.get('repositories')?.toString() ?? '') as Record<string, Record<string, string>>;
    assert.equal(repos['busybox']?.['latest'], img.layers[1]?.diffId.slice(7));
    assert.ok(files.has('oci-layout'));
  });

  it('names images the way containerd does', () => {
    assert.equal(fullImageName('busybox:1'), 'docker.io/library/busybox:1');
    assert.equal(fullImageName('foo/bar'), 'docker.io/foo/bar');
    assert.equal(fullImageName('127.0.0.1:5000/x:y'), '127.0.0.1:5000/x:y');
    assert.equal(fullImageName('localhost/x'), 'localhost/x');
  });
});

/** An in-memory registry good enough to check what the raw pusher sends. */
function fakeRegistry(): { server: Server; blobs: Map<string, Buffer>; manifests: Map<string, { type: string; body: Buffer }> } {
  const blobs = new Map<string, Buffer>();
  const manifests = new Map<string, { type: string; body: Buffer }>();
  const body = async (req: IncomingMessage): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      let m: RegExpMatchArray | null;
      if (req.method === 'HEAD' && (m = url.pathname.match(/^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/))) {
        res.writeHead(blobs.has(`${m[1]}@${m[2]}`) ? 200 : 404).end();
      } else if (req.method === 'POST' && (m = url.pathname.match(/^\/v2\/(.+)\/blobs\/uploads\/$/))) {
        res.writeHead(202, { location: `/v2/${m[1]}/blobs/uploads/u1?_state=abc` }).end();
      } else if (req.method === 'PUT' && (m = url.pathname.match(/^\/v2\/(.+)\/blobs\/uploads\/u1$/))) {
        const data = await body(req);
        const digest = url.searchParams.get('digest') ?? '';
        if (url.searchParams.get('_state') !== 'abc' || sha256Digest(data) !== digest) res.writeHead(400).end('bad digest');
        else {
          blobs.set(`${m[1]}@${digest}`, data);
          res.writeHead(201).end();
        }
      } else if (req.method === 'PUT' && (m = url.pathname.match(/^\/v2\/(.+)\/manifests\/([^/]+)$/))) {
        const data = await body(req);
        manifests.set(`${m[1]}:${m[2]}`, { type: req.headers['content-type'] ?? '', body: data });
        res.writeHead(201, { 'docker-content-digest': sha256Digest(data) }).end();
      } else res.writeHead(404).end();
    })();
  });
  return { server, blobs, manifests };
}

describe('raw push', () => {
  // The registry fixture uses undici 7, whose Agent then serves Node's fetch too and is stricter
  // (it rejected a hand-set content-length): push under the same conditions.
  getGlobalDispatcher();
  const reg = fakeRegistry();
  let url = '';
  before(async () => {
    await new Promise<void>((r) => reg.server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(reg.server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => reg.server.close(() => r())));

  it('uploads every blob with its digest and then the manifest under the tag', async () => {
    const img = await buildImage({ layers: [sample()] });
    await pushImageRaw(url, 'lib/test', 'v1', img);
    assert.deepEqual(reg.blobs.get(`lib/test@${img.layers[0]?.digest}`), img.layers[0]?.blob);
    assert.deepEqual(reg.blobs.get(`lib/test@${img.configDigest}`), img.config);
    assert.deepEqual(reg.manifests.get('lib/test:v1'), { type: MEDIA_TYPES.dockerManifest, body: img.manifest });
  });

  it('pushes a manifest list over amd64 and arm64 images', async () => {
    const img = await buildImage({ layers: [sample()], format: 'oci' });
    const { index, arm64 } = await pushMultiPlatformRaw(url, 'multi', 'latest', img, { format: 'oci' });
    const stored = reg.manifests.get('multi:latest');
    assert.equal(stored?.type, MEDIA_TYPES.ociIndex);
    const doc = JSON.parse(stored?.body.toString() ?? '') as { manifests: Array<{ digest: string; platform: { architecture: string } }> };
    assert.deepEqual(
      doc.manifests.map((m) => [m.platform.architecture, m.digest]),
      [
        ['amd64', img.manifestDigest],
        ['arm64', arm64.manifestDigest],
      ],
    );
    assert.equal(index.digest, sha256Digest(stored?.body ?? ''));
    assert.ok(reg.manifests.has(`multi:${arm64.manifestDigest}`));
    const armCfg = JSON.parse(arm64.config.toString()) as { architecture: string };
    assert.equal(armCfg.architecture, 'arm64');
  });
});
