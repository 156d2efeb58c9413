import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { BerthError } from '../../src/errors.js';
import { RegistryClient } from '../../src/registry/client.js';
import { MediaType } from '../../src/registry/manifest.js';
import { parseReference } from '../../src/registry/reference.js';
import { type Digest, sha256Digest } from '../../src/util/digest.js';
import { freePort, startRegistry, type TestRegistry } from '../support/registry.js';
import { packTar } from '../support/oci-build.js';

interface Blob {
  digest: Digest;
  size: number;
  data: Buffer;
}

const blob = (data: Buffer): Blob => ({ digest: sha256Digest(data), size: data.length, data });

function tarOf(files: Record<string, string>): Promise<Buffer> {
  return packTar(Object.entries(files).map(([name, content]) => ({ header: { name, mtime: new Date(0) }, content: Buffer.from(content) })));
}

interface TestImage {
  layer: Blob;
  diffId: Digest;
  config: Blob;
  manifest: Buffer;
  manifestDigest: Digest;
}

async function makeImage(arch: string, text: string, variant?: string): Promise<TestImage> {
  const rawTar = await tarOf({ 'hello.txt': text });
  const layer = blob(gzipSync(rawTar));
  const diffId = sha256Digest(rawTar);
  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: arch,
        os: 'linux',
        ...(variant ? { variant } : {}),
        config: { Cmd: ['/hello'], Env: ['PATH=/bin'] },
        rootfs: { type: 'layers', diff_ids: [diffId] },
        history: [{ created_by: 'test' }],
      }),
    ),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.DockerManifest,
      config: { mediaType: MediaType.DockerConfig, digest: config.digest, size: config.size },
      layers: [{ mediaType: MediaType.DockerLayerGzip, digest: layer.digest, size: layer.size }],
    }),
  );
  return { layer, diffId, config, manifest, manifestDigest: sha256Digest(manifest) };
}

type Auth = { username: string; password: string } | undefined;

async function pushImage(client: RegistryClient, refText: string, img: TestImage, auth?: Auth, byDigest = false): Promise<Digest> {
  const ref = parseReference(refText);
  const opts = auth ? { auth } : {};
  for (const b of [img.layer, img.config]) {
    await client.pushBlob(ref, { digest: b.digest, size: b.size }, () => Readable.from([b.data]), opts);
  }
  const target = byDigest ? { domain: ref.domain, path: ref.path, digest: img.manifestDigest } : ref;
  return client.putManifest(target, img.manifest, MediaType.DockerManifest, opts);
}

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function isBerthError(code: string, pattern?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof BerthError, `expected BerthError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

describe('RegistryClient against docker-registry', () => {
  let reg: TestRegistry;
  let client: RegistryClient;
  let img: TestImage;

  before(async () => {
    reg = await startRegistry();
    client = new RegistryClient({ hosts: { insecure: [], mirrors: [] } });
    img = await makeImage('amd64', 'hello from amd64');
  });
  after(async () => {
    await client.close();
    await reg.stop();
  });

  it('pushes an image and resolves it back byte for byte', async () => {
    const progress: number[] = [];
    const ref = parseReference(`${reg.host}/test/hello:v1`);
    const layerResult = await client.pushBlob(ref, img.layer, () => Readable.from([img.layer.data]), {
      onProgress: (n) => progress.push(n),
    });
    assert.equal(layerResult, 'pushed');
    assert.equal(progress.at(-1), img.layer.size);
    assert.equal(await client.pushBlob(ref, img.config, () => Readable.from([img.config.data])), 'pushed');
    const pushedDigest = await client.putManifest(ref, img.manifest, MediaType.DockerManifest, {});
    assert.equal(pushedDigest, img.manifestDigest);

    const resolved = await client.resolve(ref, {});
    assert.equal(resolved.manifestDigest, img.manifestDigest);
    assert.equal(resolved.manifestMediaType, MediaType.DockerManifest);
    assert.equal(resolved.indexDigest, undefined);
    assert.deepEqual(resolved.rawManifest, img.manifest);
    assert.equal(resolved.configDigest, img.config.digest);
    assert.deepEqual(resolved.config.rootfs.diff_ids, [img.diffId]);
    assert.deepEqual(resolved.config.config?.Cmd, ['/hello']);
    assert.deepEqual(resolved.source, { endpoint: reg.url, repository: 'test/hello' });

    const { body, size } = await client.fetchBlob(resolved.source, img.layer.digest, {});
    const data = await readAll(body);
    assert.equal(size, img.layer.size);
    assert.equal(sha256Digest(data), img.layer.digest);
  });

  it('reports existing blobs and skips their upload', async () => {
    const ref = parseReference(`${reg.host}/test/hello:v1`);
    assert.equal(await client.hasBlob(ref, img.layer.digest, {}), true);
    assert.equal(await client.hasBlob(ref, sha256Digest('nothing like this'), {}), false);
    let opened = false;
    const result = await client.pushBlob(ref, img.layer, () => {
      opened = true;
      return Readable.from([img.layer.data]);
    });
    assert.equal(result, 'exists');
    assert.equal(opened, false);
  });

  it('resolves by digest and refuses a digest the registry does not have', async () => {
    const byDigest = parseReference(`${reg.host}/test/hello@${img.manifestDigest}`);
    const resolved = await client.resolve(byDigest, {});
    assert.equal(resolved.manifestDigest, img.manifestDigest);
    const missing = sha256Digest('not a manifest');
    await assert.rejects(client.resolve(parseReference(`${reg.host}/test/hello@${missing}`), {}), isBerthError('not_found'));
  });

  it('fails a missing tag with docker wording', async () => {
    await assert.rejects(
      client.resolve(parseReference(`${reg.host}/test/hello:nope`), {}),
      isBerthError('not_found', new RegExp(`^manifest for ${reg.host}/test/hello:nope not found: manifest unknown: manifest unknown$`)),
    );
  });

  it('fails a missing blob with not_found', async () => {
    await assert.rejects(
      client.fetchBlob({ endpoint: reg.url, repository: 'test/hello' }, sha256Digest('no such blob'), {}),
      isBerthError('not_found'),
    );
  });

  it('resolves an index with two platforms to the one asked for', async () => {
    const arm = await makeImage('arm64', 'hello from arm64', 'v8');
    const amd = await makeImage('amd64', 'hello from amd64 (index)');
    const repo = `${reg.host}/test/multi`;
    await pushImage(client, repo, arm, undefined, true);
    await pushImage(client, repo, amd, undefined, true);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: [
          { mediaType: MediaType.DockerManifest, digest: arm.manifestDigest, size: arm.manifest.length, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
          { mediaType: MediaType.DockerManifest, digest: amd.manifestDigest, size: amd.manifest.length, platform: { os: 'linux', architecture: 'amd64' } },
        ],
      }),
    );
    const ref = parseReference(`${repo}:latest`);
    const indexDigest = await client.putManifest(ref, index, MediaType.OciIndex, {});
    assert.equal(indexDigest, sha256Digest(index));

    const forAmd = await client.resolve(ref, { platform: { os: 'linux', architecture: 'amd64' } });
    assert.equal(forAmd.manifestDigest, amd.manifestDigest);
    assert.equal(forAmd.indexDigest, indexDigest);
    assert.equal(forAmd.config.architecture, 'amd64');

    const forArm = await client.resolve(ref, { platform: { os: 'linux', architecture: 'arm64' } });
    assert.equal(forArm.manifestDigest, arm.manifestDigest);
    assert.equal(forArm.config.architecture, 'arm64');

    if (process.arch === 'x64') {
      const forHost = await client.resolve(ref, {});
      assert.equal(forHost.manifestDigest, amd.manifestDigest);
    }
    await assert.rejects(
      client.resolve(ref, { platform: { os: 'linux', architecture: 's390x' } }),
      isBerthError('not_found', /no matching manifest for linux\/s390x/),
    );
  });

  it('pulls docker.io names through a mirror, skipping an unreachable one', async () => {
    await pushImage(client, `${reg.host}/library/mirrored:1`, img);
    const deadPort = await freePort();
    const mirrored = new RegistryClient({ hosts: { insecure: [], mirrors: [`http://127.0.0.1:${deadPort}`, reg.url] } });
    try {
      const resolved = await mirrored.resolve(parseReference('mirrored:1'), {});
      assert.equal(resolved.manifestDigest, img.manifestDigest);
      assert.deepEqual(resolved.source, { endpoint: reg.url, repository: 'library/mirrored' });
      // The mirror answered 404: that is final, the hub is not asked.
      await assert.rejects(
        mirrored.resolve(parseReference('mirrored:2'), {}),
        isBerthError('not_found', /^manifest for mirrored:2 not found/),
      );
    } finally {
      await mirrored.close();
    }
  });
});

describe('RegistryClient when the registry is down', () => {
  it('fails with unavailable and names the endpoint', async () => {
    const reg = await startRegistry();
    const host = reg.host;
    await reg.stop();
    const client = new RegistryClient({ hosts: { insecure: [], mirrors: [] } });
    try {
      await assert.rejects(
        client.resolve(parseReference(`${host}/test/hello:v1`), {}),
        isBerthError('unavailable', new RegExp(`http://${host.replace(/\./g, '\\.')}/v2/test/hello/manifests/v1`)),
      );
      await assert.rejects(client.hasBlob(parseReference(`${host}/x`), sha256Digest('x'), {}), isBerthError('unavailable'));
    } finally {
      await client.close();
    }
  });
});

describe('RegistryClient with basic auth (htpasswd)', () => {
  const creds = { username: 'alice', password: 'wonder land' };
  let reg: TestRegistry;
  let client: RegistryClient;
  let img: TestImage;

  before(async () => {
    reg = await startRegistry({ htpasswd: { user: creds.username, password: creds.password } });
    client = new RegistryClient({ hosts: { insecure: [], mirrors: [] } });
    img = await makeImage('amd64', 'private');
  });
  after(async () => {
    await client.close();
    await reg.stop();
  });

  it('pushes and pulls with credentials', async () => {
    await pushImage(client, `${reg.host}/private/app:1`, img, creds);
    const resolved = await client.resolve(parseReference(`${reg.host}/private/app:1`), { auth: creds });
    assert.equal(resolved.manifestDigest, img.manifestDigest);
    const { body } = await client.fetchBlob(resolved.source, img.layer.digest, { auth: creds });
    assert.equal(sha256Digest(await readAll(body)), img.layer.digest);
  });

  it('refuses without or with wrong credentials', async () => {
    const fresh = new RegistryClient({ hosts: { insecure: [], mirrors: [] } });
    try {
      await assert.rejects(fresh.resolve(parseReference(`${reg.host}/private/app:1`), {}), isBerthError('unauthorized'));
      await assert.rejects(
        fresh.resolve(parseReference(`${reg.host}/private/app:1`), { auth: { username: 'alice', password: 'nope' } }),
        isBerthError('unauthorized'),
      );
      await assert.rejects(
        fresh.pushBlob(parseReference(`${reg.host}/private/app:2`), img.layer, () => Readable.from([img.layer.data]), {}),
        isBerthError('unauthorized'),
      );
    } finally {
      await fresh.close();
    }
  });

  it('logs in with good credentials only', async () => {
    assert.deepEqual(await client.login(reg.host, creds), { status: 'Login Succeeded' });
    await assert.rejects(client.login(`http://${reg.host}/`, { username: 'alice', password: 'bad' }), isBerthError('unauthorized', /login attempt/));
  });
});

