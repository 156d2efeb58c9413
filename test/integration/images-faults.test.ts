/**
 * Pulls that go wrong, against a real berthd: killed mid-pull, registry down, digests that lie, layers that try to
 * write outside their root. Each must fail with a clear error and store nothing; a crash is cleaned up at the next
 * start. Also: concurrent pulls of one image, and images surviving a restart.
 *
 * A small HTTP server in this file plays a registry where a real one will not misbehave on demand (wrong bytes for a
 * digest, a download that stalls half-way so the daemon can be killed at a known point).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tar from 'tar-stream';
import { type CliResult, type TestDaemon, runCli, startDaemon, unmountBelow } from '../support/berthd.js';
import {
  type BuiltImage,
  type BuiltLayer,
  type FileSpec,
  assembleImage,
  buildImage,
  buildLayer,
  layerFromTar,
  packTar,
  pushImageRaw,
} from '../support/oci-build.js';
import { type TestRegistry, freePort, startRegistry } from '../support/registry.js';
import { chainIds } from '../../src/store/layer-tar.js';
import { type Digest, digestHex, sha256Digest } from '../../src/util/digest.js';

// ------------------------------------------------------------------------------------------- a registry that lies

interface FakeManifest {
  body: Buffer;
  mediaType: string;
}

/** A blob whose download sends `bytes` bytes and then hangs until release(). */
interface Stall {
  bytes: number;
}

class FakeRegistry {
  readonly manifests = new Map<string, FakeManifest>();
  /** What the server sends for a digest: not necessarily bytes that hash to it. */
  readonly blobs = new Map<string, Buffer>();
  readonly stalls = new Map<string, Stall>();
  private readonly stalled = new Set<ServerResponse>();
  private stallWaiters: Array<{ count: number; resolve: () => void }> = [];
  private server!: Server;
  host = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address();
    this.host = `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  }

  /** Serves `image` under repo:tag; `blobOverride` replaces the bytes sent for a digest. */
  add(repo: string, tag: string, image: Pick<BuiltImage, 'manifest' | 'manifestMediaType' | 'config' | 'configDigest'>, blobs: Array<[Digest, Buffer]>): void {
    this.manifests.set(`${repo}:${tag}`, { body: image.manifest, mediaType: image.manifestMediaType });
    this.blobs.set(`${repo}@${image.configDigest}`, image.config);
    for (const [d, data] of blobs) this.blobs.set(`${repo}@${d}`, data);
  }

  /** Resolves once `count` downloads are hanging. */
  waitStalled(count: number): Promise<void> {
    if (this.stalled.size >= count) return Promise.resolve();
    return new Promise((resolve) => this.stallWaiters.push({ count, resolve }));
  }

  /** Later downloads are served whole; hanging ones are cut off. */
  releaseStalls(): void {
    this.stalls.clear();
    for (const res of this.stalled) res.destroy();
    this.stalled.clear();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    if (url === '/v2/' || url === '/v2') {
      res.writeHead(200, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' });
      res.end('{}');
      return;
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/?]+)$/.exec(url);
    if (!m) return this.notFound(res);
    const [, repo, kind, ref] = m as unknown as [string, string, string, string];
    if (kind === 'manifests') {
      const man = this.manifests.get(`${repo}:${ref}`) ?? [...this.manifests.entries()].find(([k, v]) => k.startsWith(`${repo}:`) && sha256Digest(v.body) === ref)?.[1];
      if (!man) return this.notFound(res, 'MANIFEST_UNKNOWN');
      res.writeHead(200, { 'content-type': man.mediaType, 'content-length': man.body.length, 'docker-content-digest': sha256Digest(man.body) });
      res.end(req.method === 'HEAD' ? undefined : man.body);
      return;
    }
    const data = this.blobs.get(`${repo}@${ref}`);
    if (!data) return this.notFound(res, 'BLOB_UNKNOWN');
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length, 'docker-content-digest': ref });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stall = this.stalls.get(ref);
    if (!stall) {
      res.end(data);
      return;
    }
    res.write(data.subarray(0, stall.bytes));
    this.stalled.add(res);
    res.on('close', () => this.stalled.delete(res));
    this.stallWaiters = this.stallWaiters.filter((w) => {
      if (this.stalled.size < w.count) return true;
      w.resolve();
      return false;
    });
  }

  private notFound(res: ServerResponse, code = 'NOT_FOUND'): void {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code, message: code.toLowerCase().replace('_', ' ') }] }));
  }

  async stop(): Promise<void> {
    this.releaseStalls();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ------------------------------------------------------------------------------------------- what is on disk

interface StoreState {
  blobs: string[];
  ingest: string[];
  /** Everything under overlay/snapshots: committed chain IDs and tmp-* dirs alike. */
  snapshots: string[];
}

async function listOrEmpty(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

async function storeState(dataRoot: string): Promise<StoreState> {
  return {
    blobs: await listOrEmpty(join(dataRoot, 'content/blobs/sha256')),
    ingest: await listOrEmpty(join(dataRoot, 'content/ingest')),
    snapshots: await listOrEmpty(join(dataRoot, 'overlay/snapshots')),
  };
}

/** GET on the daemon's socket, JSON-decoded. */
function apiGet<T>(d: TestDaemon, path: string): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: d.socket, path, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') as T }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function imageIds(d: TestDaemon): Promise<string[]> {
  const { status, body } = await apiGet<Array<{ Id: string }>>(d, '/v1.50/images/json');
  assert.equal(status, 200);
  return body.map((i) => i.Id).sort();
}

type RawHeader = Partial<tar.Header> & { name: string };


const FIXED = new Date('2024-01-01T00:00:00Z');
const file = (name: string, content: string): { header: RawHeader; content: Buffer } => ({
  header: { name, type: 'file', mode: 0o644, size: Buffer.byteLength(content), mtime: FIXED },
  content: Buffer.from(content),
});

function randomLayerSpec(name: string, bytes: number): Map<string, FileSpec> {
  return new Map<string, FileSpec>([[name, { type: 'file', content: randomBytes(bytes) }]]);
}

// ------------------------------------------------------------------------------------------- the tests

describe('image faults', () => {
  let registry: TestRegistry;
  let fake: FakeRegistry;
  let root: string;
  let dataRoot: string;
  let execRoot: string;
  let daemon: TestDaemon;
  /** A layer both the real and the fake registry serve, placed under the malicious ones. */
  let benign: BuiltLayer;
  const cli = (args: string[]): Promise<CliResult> => runCli('berth', args, daemon, { env: { DOCKER_CONFIG: join(root, 'docker-config') } });

  const start = (): Promise<TestDaemon> => startDaemon({ dataRoot, execRoot, startTimeoutMs: 15_000 });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-faults-'));
    dataRoot = join(root, 'data');
    execRoot = join(root, 'exec');
    await mkdir(dataRoot);
    await mkdir(execRoot);
    registry = await startRegistry();
    fake = new FakeRegistry();
    await fake.start();
    benign = await buildLayer(randomLayerSpec('benign.bin', 256 << 10));
    daemon = await start();
  });

  after(async () => {
    await daemon?.stop();
    await fake?.stop();
    await registry?.stop();
    if (root) {
      await unmountBelow(root);
      await rm(root, { recursive: true, force: true });
    }
  });

  /** The store holds exactly what it held before, and the daemon lists the same images. */
  async function assertNothingStored(before: StoreState, imagesBefore: string[]): Promise<void> {
    assert.deepEqual(await storeState(dataRoot), before);
    assert.deepEqual(await imageIds(daemon), imagesBefore);
  }

  it('a pull killed with -9 leaves nothing half-done once berthd starts again, and then succeeds', async () => {
    const layers = [
      await buildLayer(randomLayerSpec('layer0.bin', 8 << 20)),
      await buildLayer(randomLayerSpec('layer1.bin', 8 << 20)),
      await buildLayer(randomLayerSpec('layer2.bin', 8 << 20)),
      await buildLayer(randomLayerSpec('layer3.bin', 8 << 20)),
    ];
    const image = assembleImage(layers);
    fake.add('big/image', 'v1', image, layers.map((l) => [l.digest, l.blob]));
    // The last two layers stall half-way; the first two complete, so their snapshots and blobs exist, referenced by
    // no image, when the daemon dies.
    for (const l of layers.slice(2)) fake.stalls.set(l.digest, { bytes: l.blob.length >> 1 });
    const ref = `${fake.host}/big/image:v1`;

    const pull = new Promise<void>((resolve) => {
      const req = request(
        { socketPath: daemon.socket, method: 'POST', path: `/v1.50/images/create?fromImage=${encodeURIComponent(`${fake.host}/big/image`)}&tag=v1` },
        (res) => {
          res.resume();
          res.on('close', () => resolve());
          res.on('error', () => resolve());
        },
      );
      req.on('error', () => resolve());
      req.end();
    });

    await fake.waitStalled(2);
    const chains = chainIds(layers.map((l) => l.diffId));
    const committed = new Set(chains.slice(0, 2).map(digestHex));
    // Wait (bounded) until the first two layers are committed and the stalled ones have bytes on disk.
    const deadline = Date.now() + 60_000;
    let state = await storeState(dataRoot);
    for (;;) {
      // A file listed a moment ago may have been committed (renamed away) since.
      const partial = await Promise.all(
        state.ingest.map((n) => stat(join(dataRoot, 'content/ingest', n)).then((st) => st.size, () => 0)),
      );
      const done = state.snapshots.filter((n) => committed.has(n)).length === 2;
      if (done && partial.filter((s) => s > 0).length === 2) break;
      assert.ok(Date.now() < deadline, `pull did not reach the stalled point: ${JSON.stringify(state)}\n${daemon.logs()}`);
      await new Promise((r) => setTimeout(r, 20));
      state = await storeState(dataRoot);
    }

    await daemon.kill9();
    await pull;
    // What a crash leaves: two unreferenced layers, two partial downloads, two half-unpacked snapshots.
    state = await storeState(dataRoot);
    assert.deepEqual(state.snapshots.filter((n) => /^[a-f0-9]{64}$/.test(n)).sort(), [...committed].sort());
    assert.equal(state.snapshots.filter((n) => n.startsWith('tmp-')).length, 2, JSON.stringify(state));
    assert.equal(state.ingest.length, 2);
    assert.deepEqual(state.blobs, layers.slice(0, 2).map((l) => digestHex(l.digest)).sort());

    fake.releaseStalls();
    // The killed daemon's own files (socket, pidfile) go; its data root is the next one's.
    await daemon.stop();
    daemon = await start();
    assert.deepEqual(await imageIds(daemon), []);
    assert.deepEqual(await storeState(dataRoot), { blobs: [], ingest: [], snapshots: [] });

    const r = await cli(['pull', ref]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(await imageIds(daemon), [image.configDigest]);
    state = await storeState(dataRoot);
    assert.deepEqual(state.snapshots, chains.map(digestHex).sort());
    assert.deepEqual(state.blobs, layers.map((l) => digestHex(l.digest)).sort());
    assert.deepEqual(state.ingest, []);
    const onDisk = await readFile(join(dataRoot, 'overlay/snapshots', digestHex(chains[3]!), 'fs/layer3.bin'));
    assert.equal(onDisk.length, 8 << 20);
    const inspect = await cli(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', ref]);
    assert.equal(inspect.stdout.trim(), JSON.stringify(layers.map((l) => l.diffId)));

    ok(await cli(['rmi', ref]));
    assert.deepEqual(await storeState(dataRoot), { blobs: [], ingest: [], snapshots: [] });
  });

  it('a registry that is down: exit 1 naming the address, nothing stored', async () => {
    const before = await storeState(dataRoot);
    const images = await imageIds(daemon);
    const host = `127.0.0.1:${await freePort()}`;
    const r = await cli(['pull', `${host}/gone/image:v1`]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /^Error response from daemon: /m);
    assert.ok(r.stderr.includes(host), r.stderr);
    assert.match(r.stderr, /connection refused|ECONNREFUSED/i);
    await assertNothingStored(before, images);
  });

  it('a missing tag: exit 1 with "not found", nothing stored', async () => {
    const img = await buildImage({ layers: [new Map<string, FileSpec>([['a.txt', { type: 'file', content: 'a\n' }]])] });
    await pushImageRaw(registry.url, 'exists/image', 'v1', img);
    const before = await storeState(dataRoot);
    const images = await imageIds(daemon);
    const r = await cli(['pull', `${registry.host}/exists/image:v2`]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr.trim(),
      `Error response from daemon: manifest for ${registry.host}/exists/image:v2 not found: manifest unknown: manifest unknown`,
    );
    await assertNothingStored(before, images);
  });

  it('a blob whose bytes do not match its digest: "digest mismatch", nothing stored', async () => {
    const served = await buildLayer(randomLayerSpec('served.bin', 1 << 20));
    // The config promises exactly what is served (so unpacking checks out); only the manifest's digest disagrees.
    const claimed = sha256Digest(Buffer.concat([served.blob, Buffer.from('x')]));
    const lying: BuiltLayer = { ...served, digest: claimed };
    const image = assembleImage([benign, lying]);
    fake.add('liar/digest', 'v1', image, [
      [benign.digest, benign.blob],
      [claimed, served.blob],
    ]);
    const before = await storeState(dataRoot);
    const images = await imageIds(daemon);
    const r = await cli(['pull', `${fake.host}/liar/digest:v1`]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`digest mismatch: expected ${claimed}, got ${served.digest}`));
    await assertNothingStored(before, images);
  });

  it('a config whose diff IDs do not match the layers: "diff ID mismatch", nothing stored', async () => {
    const real = await buildLayer(randomLayerSpec('real.bin', 64 << 10));
    const wrong = sha256Digest('not this layer');
    const image = assembleImage([benign, { ...real, diffId: wrong }]);
    await pushImageRaw(registry.url, 'liar/diffid', 'v1', image);
    const before = await storeState(dataRoot);
    const images = await imageIds(daemon);
    const r = await cli(['pull', `${registry.host}/liar/diffid:v1`]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`diff ID mismatch: expected ${wrong}, got ${real.diffId}`));
    await assertNothingStored(before, images);
  });

  describe('malicious layers', () => {
    let outside: string;
    let passwdBefore: { nlink: number; content: Buffer };

    before(async () => {
      outside = await mkdtemp(join(tmpdir(), 'berth-outside-'));
      const st = await stat('/etc/passwd');
      passwdBefore = { nlink: st.nlink, content: await readFile('/etc/passwd') };
    });

    after(async () => {
      await rm(outside, { recursive: true, force: true });
    });

    async function pullMalicious(repo: string, entries: Array<{ header: RawHeader; content?: Buffer }>): Promise<CliResult> {
      const evil = layerFromTar(await packTar(entries));
      const image = assembleImage([benign, evil]);
      await pushImageRaw(registry.url, repo, 'v1', image);
      const before = await storeState(dataRoot);
      const images = await imageIds(daemon);
      const r = await cli(['pull', `${registry.host}/${repo}:v1`]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      await assertNothingStored(before, images);
      return r;
    }

    it('a ../ path that climbs out of the root', async () => {
      const name = `${'../'.repeat(16)}${outside.slice(1)}/escape`;
      const r = await pullMalicious('evil/dotdot', [file('ok.txt', 'fine\n'), file(name, 'escaped\n')]);
      assert.ok(r.stderr.includes(`layer entry ${JSON.stringify(name)}`), r.stderr);
      assert.match(r.stderr, /escapes the layer root/);
      await assert.rejects(stat(join(outside, 'escape')), { code: 'ENOENT' });
    });

    it('a file written through an absolute symlink', async () => {
      const r = await pullMalicious('evil/symlink', [
        { header: { name: 'link', type: 'symlink', linkname: outside, mode: 0o777, mtime: FIXED } },
        file('link/pwned', 'pwned\n'),
      ]);
      assert.ok(r.stderr.includes('layer entry "link/pwned": parent "link" is a symbolic link'), r.stderr);
      await assert.rejects(stat(join(outside, 'pwned')), { code: 'ENOENT' });
      assert.deepEqual(await readdir(outside), []);
    });

    it('a hard link to /etc/passwd', async () => {
      const r = await pullMalicious('evil/hardlink', [
        { header: { name: 'etc/', type: 'directory', mode: 0o755, mtime: FIXED } },
        { header: { name: 'etc/shadow-copy', type: 'link', linkname: '/etc/passwd', mode: 0o644, mtime: FIXED } },
      ]);
      assert.ok(r.stderr.includes('layer entry "etc/shadow-copy": hard link target "/etc/passwd" does not exist'), r.stderr);
      const st = await stat('/etc/passwd');
      assert.equal(st.nlink, passwdBefore.nlink);
      assert.deepEqual(await readFile('/etc/passwd'), passwdBefore.content);
    });

    it('a hard link that climbs out with ../', async () => {
      const target = `${'../'.repeat(16)}etc/passwd`;
      const r = await pullMalicious('evil/hardlink-dotdot', [
        { header: { name: 'passwd', type: 'link', linkname: target, mode: 0o644, mtime: FIXED } },
      ]);
      assert.ok(r.stderr.includes('layer entry "passwd"'), r.stderr);
      assert.match(r.stderr, /escapes the layer root/);
      assert.equal((await stat('/etc/passwd')).nlink, passwdBefore.nlink);
    });

    it('a device node', async () => {
      const r = await pullMalicious('evil/device', [
        { header: { name: 'dev/', type: 'directory', mode: 0o755, mtime: FIXED } },
        { header: { name: 'dev/kmem-copy', type: 'character-device', devmajor: 1, devminor: 2, mode: 0o666, mtime: FIXED } },
      ]);
      assert.ok(r.stderr.includes('layer entry "dev/kmem-copy": device nodes are not allowed in layers'), r.stderr);
    });
  });

  it('two concurrent pulls of one image both succeed and leave one image', async () => {
    const img = await buildImage({
      layers: [randomLayerSpec('one.bin', 2 << 20), randomLayerSpec('two.bin', 2 << 20), randomLayerSpec('three.bin', 2 << 20)],
    });
    await pushImageRaw(registry.url, 'shared/image', 'v1', img);
    const ref = `${registry.host}/shared/image:v1`;
    const before = await storeState(dataRoot);
    const [a, b] = await Promise.all([cli(['pull', ref]), cli(['pull', ref])]);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    for (const r of [a, b]) assert.equal(r.stdout.trim().split('\n').pop(), ref);
    const ids = (await apiGet<Array<{ Id: string; RepoTags: string[] }>>(daemon, '/v1.50/images/json')).body.filter((i) => i.RepoTags.includes(ref));
    assert.deepEqual(ids.map((i) => i.Id), [img.configDigest]);
    const after = await storeState(dataRoot);
    const chains = chainIds(img.layers.map((l) => l.diffId)).map(digestHex);
    assert.deepEqual(after.snapshots, [...before.snapshots, ...chains].sort());
    assert.deepEqual(after.blobs, [...before.blobs, ...img.layers.map((l) => digestHex(l.digest))].sort());
    assert.deepEqual(after.ingest, []);
  });

  it('images survive a daemon restart', async () => {
    const images = await imageIds(daemon);
    assert.ok(images.length > 0);
    const state = await storeState(dataRoot);
    const ref = `${registry.host}/shared/image:v1`;
    const inspectBefore = await cli(['image', 'inspect', ref]);
    await daemon.stop();
    daemon = await start();
    assert.deepEqual(await imageIds(daemon), images);
    assert.deepEqual(await storeState(dataRoot), state);
    const inspectAfter = await cli(['image', 'inspect', ref]);
    assert.equal(inspectAfter.code, 0, inspectAfter.stderr);
    assert.equal(inspectAfter.stdout, inspectBefore.stdout);
    const list = await cli(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.ok(list.stdout.split('\n').includes(ref), list.stdout);
  });
});

function ok(r: CliResult): void {
  assert.equal(r.code, 0, r.stdout + r.stderr);
}
