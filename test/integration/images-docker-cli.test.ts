/**
 * Images through the real docker CLI (28) against a test berthd: pull, list, inspect, history, tag, push, rmi, save,
 * load, import, prune, login and the Docker Hub mirror, all checked against what the fixtures built (digests, IDs,
 * files on disk) and against the registry itself over plain HTTP.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type CliResult, type TestDaemon, runCli, startDaemon } from '../support/berthd.js';
import { BUSYBOX_BINARY, BUSYBOX_CONFIG, buildBusyboxImage, busyboxRootfs } from '../support/busybox-image.js';
import {
  type BuiltImage,
  type FileSpec,
  MEDIA_TYPES,
  assembleImage,
  buildLayer,
  buildLayerTar,
  dockerSaveTar,
  pushImageRaw,
  pushMultiPlatformRaw,
} from '../support/oci-build.js';
import { type TestRegistry, startRegistry } from '../support/registry.js';
import { type Digest, digestHex, sha256Digest } from '../../src/util/digest.js';

const run = promisify(execFile);

const LABEL_KEY = 'org.example.role';
const LABEL_VALUE = 'fixture';
const EXTRA_LAYER_CREATED_BY = '/bin/sh -c echo labeled > /labeled.txt';
const PRIVATE_USER = 'alice';
const PRIVATE_PASSWORD = 'wonderland-42';

let registry: TestRegistry;
let privateRegistry: TestRegistry;
let daemon: TestDaemon;
let dockerConfig: string;
let scratch: string;

let busybox: BuiltImage;
/** busybox plus one layer and a label: shares its base layer with `busybox`. */
let labeled: BuiltImage;
/** busybox with zstd layers in an OCI manifest, plus a layer only it has (so zstd is really unpacked). */
let zstdOci: BuiltImage;
let gzipOci: BuiltImage;
let arm64: BuiltImage;
let multiIndexDigest: Digest;

const short = (d: Digest): string => digestHex(d).slice(0, 12);

function docker(args: string[], opts: { input?: Buffer | string; config?: string } = {}): Promise<CliResult> {
  return runCli('docker', args, daemon, { input: opts.input, env: { DOCKER_CONFIG: opts.config ?? dockerConfig } });
}

/** Runs docker and fails the test, with everything it printed, unless it exits 0. */
async function ok(args: string[], opts: { input?: Buffer | string; config?: string } = {}): Promise<CliResult> {
  const res = await docker(args, opts);
  assert.equal(res.code, 0, `docker ${args.join(' ')} exited ${res.code}\nstdout: ${res.stdout}\nstderr: ${res.stderr}`);
  return res;
}

function lines(s: string): string[] {
  return s.split('\n').filter((l) => l.trim() !== '');
}

async function inspect(name: string): Promise<Record<string, unknown> & { Id: string }> {
  const res = await ok(['image', 'inspect', name]);
  const parsed = JSON.parse(res.stdout) as Array<Record<string, unknown> & { Id: string }>;
  assert.equal(parsed.length, 1);
  return parsed[0];
}

async function removeAllImages(): Promise<void> {
  const ids = [...new Set(lines((await ok(['images', '-aq'])).stdout))];
  if (ids.length > 0) await ok(['rmi', '-f', ...ids]);
  assert.deepEqual(lines((await ok(['images', '-aq'])).stdout), []);
}

async function entries(dir: string): Promise<string[]> {
  return readdir(dir).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? [] : Promise.reject(e)));
}

/** No layer, blob or half-finished download may survive the removal of the last image. */
async function assertStoreEmpty(): Promise<void> {
  assert.deepEqual(await entries(join(daemon.dataRoot, 'overlay/snapshots')), []);
  assert.deepEqual(await entries(join(daemon.dataRoot, 'content/blobs/sha256')), []);
  assert.deepEqual(await entries(join(daemon.dataRoot, 'content/ingest')), []);
}

/** The names of the entries of a tar file, directories without their trailing slash. */
async function tarNames(file: string): Promise<string[]> {
  const { stdout } = await run('tar', ['-tf', file], { maxBuffer: 1 << 24 });
  return lines(stdout).map((n) => n.replace(/^\.\//, '').replace(/\/$/, ''));
}

async function registryManifest(reg: TestRegistry, repo: string, reference: string): Promise<{ digest: string | null; body: Buffer; type: string | null }> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${reference}`, {
    headers: {
      accept: [MEDIA_TYPES.dockerManifest, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.ociIndex].join(', '),
    },
  });
  assert.equal(res.status, 200, `GET manifest ${repo}:${reference}`);
  return { digest: res.headers.get('docker-content-digest'), body: Buffer.from(await res.arrayBuffer()), type: res.headers.get('content-type') };
}

before(async () => {
  registry = await startRegistry();
  privateRegistry = await startRegistry({ htpasswd: { user: PRIVATE_USER, password: PRIVATE_PASSWORD } });
  scratch = await mkdtemp(join(tmpdir(), 'berth-docker-cli-'));
  dockerConfig = join(scratch, 'docker-config');

  busybox = await buildBusyboxImage();
  const extra = await buildLayer(new Map<string, FileSpec>([['labeled.txt', { type: 'file', content: 'labeled\n' }]]));
  labeled = assembleImage([busybox.layers[0]!, extra], {
    config: {
      ...BUSYBOX_CONFIG,
      config: { ...BUSYBOX_CONFIG.config, Labels: { [LABEL_KEY]: LABEL_VALUE } },
      history: [...(BUSYBOX_CONFIG.history ?? []), { created: '2024-01-01T00:00:00Z', created_by: EXTRA_LAYER_CREATED_BY }],
    },
  });
  zstdOci = await buildBusyboxImage({
    compression: 'zstd',
    format: 'oci',
    extraLayers: [new Map<string, FileSpec>([['zstd.txt', { type: 'file', content: 'unpacked from zstd\n' }]])],
  });
  gzipOci = await buildBusyboxImage({ format: 'oci' });

  await pushImageRaw(registry.url, 'test/busybox', 'latest', busybox);
  await pushImageRaw(registry.url, 'test/labeled', 'latest', labeled);
  await pushImageRaw(registry.url, 'test/zstd', 'latest', zstdOci);
  await pushImageRaw(registry.url, 'test/oci', 'latest', gzipOci);
  // What a Docker Hub mirror holds for `docker pull busybox`.
  await pushImageRaw(registry.url, 'library/busybox', 'latest', busybox);
  const multi = await pushMultiPlatformRaw(registry.url, 'test/multi', 'latest', busybox);
  arm64 = multi.arm64;
  multiIndexDigest = multi.index.digest;
  await pushImageRaw(privateRegistry.url, 'private/busybox', 'latest', busybox, { user: PRIVATE_USER, password: PRIVATE_PASSWORD });

  daemon = await startDaemon({ mirrors: [registry.url] });
});

after(async () => {
  await daemon?.stop();
  await registry?.stop();
  await privateRegistry?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('docker pull and docker images', () => {
  let danglingId: string;

  test('pull from the registry reports the manifest digest', async () => {
    const res = await ok(['pull', `${registry.host}/test/busybox`]);
    assert.match(res.stdout, new RegExp(`Digest: ${busybox.manifestDigest}`));
    assert.match(res.stdout, new RegExp(`Status: Downloaded newer image for ${registry.host}/test/busybox:latest`));
    assert.equal(lines(res.stdout).at(-1), `${registry.host}/test/busybox:latest`);

    const again = await ok(['pull', `${registry.host}/test/busybox`]);
    assert.match(again.stdout, new RegExp(`Status: Image is up to date for ${registry.host}/test/busybox:latest`));

    // The base layer is shared, so only the labeled image's own layer is downloaded.
    const labeledPull = await ok(['pull', `${registry.host}/test/labeled:latest`]);
    assert.match(labeledPull.stdout, new RegExp(`${short(busybox.layers[0]!.digest)}: Already exists`));
    assert.match(labeledPull.stdout, new RegExp(`${short(labeled.layers[1]!.digest)}: Pull complete`));

    // A dangling image: imported without a name.
    const tiny = await buildLayerTar(new Map<string, FileSpec>([['dangling.txt', { type: 'file', content: 'no name\n' }]]));
    const imported = await ok(['import', '-'], { input: tiny });
    danglingId = imported.stdout.trim();
    assert.match(danglingId, /^sha256:[0-9a-f]{64}$/);
  });

  test('docker images shows repository, tag and the 12-hex config digest', async () => {
    const res = await ok(['images']);
    const rows = lines(res.stdout).map((l) => l.split(/\s{2,}/));
    assert.deepEqual(rows[0]?.slice(0, 3), ['REPOSITORY', 'TAG', 'IMAGE ID']);
    const row = rows.find((r) => r[0] === `${registry.host}/test/busybox`);
    assert.ok(row, res.stdout);
    assert.equal(row[1], 'latest');
    assert.equal(row[2], short(busybox.configDigest));
    const danglingRow = rows.find((r) => r[2] === short(danglingId as Digest));
    assert.deepEqual(danglingRow?.slice(0, 2), ['<none>', '<none>']);
  });

  test('docker images -q and --digests', async () => {
    const ids = lines((await ok(['images', '-q'])).stdout).sort();
    assert.deepEqual(ids, [short(busybox.configDigest), short(labeled.configDigest), short(danglingId as Digest)].sort());

    const res = await ok(['images', '--digests']);
    const row = lines(res.stdout)
      .map((l) => l.split(/\s{2,}/))
      .find((r) => r[0] === `${registry.host}/test/busybox`);
    assert.deepEqual(row?.slice(0, 4), [`${registry.host}/test/busybox`, 'latest', busybox.manifestDigest, short(busybox.configDigest)]);
  });

  test("docker images --format '{{json .}}'", async () => {
    const res = await ok(['images', '--format', '{{json .}}']);
    const items = lines(res.stdout).map((l) => JSON.parse(l) as Record<string, string>);
    assert.equal(items.length, 3);
    const item = items.find((i) => i.Repository === `${registry.host}/test/labeled`);
    assert.ok(item, res.stdout);
    assert.equal(item.Tag, 'latest');
    assert.equal(item.ID, short(labeled.configDigest));
    assert.equal(item.CreatedAt, '2024-01-01 00:00:00 +0000 UTC');
  });

  test('--filter dangling, reference and label', async () => {
    const q = async (...filters: string[]): Promise<string[]> =>
      lines((await ok(['images', '-q', ...filters.flatMap((f) => ['--filter', f])])).stdout).sort();
    assert.deepEqual(await q('dangling=true'), [short(danglingId as Digest)]);
    assert.deepEqual(await q('dangling=false'), [short(busybox.configDigest), short(labeled.configDigest)].sort());
    assert.deepEqual(await q(`reference=${registry.host}/test/busybox`), [short(busybox.configDigest)]);
    assert.deepEqual(await q(`reference=${registry.host}/test/*`), [short(busybox.configDigest), short(labeled.configDigest)].sort());
    assert.deepEqual(await q(`reference=${registry.host}/test/*:nosuchtag`), []);
    assert.deepEqual(await q(`label=${LABEL_KEY}`), [short(labeled.configDigest)]);
    assert.deepEqual(await q(`label=${LABEL_KEY}=${LABEL_VALUE}`), [short(labeled.configDigest)]);
    assert.deepEqual(await q(`label=${LABEL_KEY}=other`), []);
    const bad = await docker(['images', '--filter', 'nosuchfilter=1']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid filter 'nosuchfilter'/);
  });

  test('docker image inspect', async () => {
    const img = await inspect(`${registry.host}/test/busybox`);
    assert.equal(img.Id, busybox.configDigest);
    assert.deepEqual(img.RepoTags, [`${registry.host}/test/busybox:latest`]);
    assert.deepEqual(img.RepoDigests, [`${registry.host}/test/busybox@${busybox.manifestDigest}`]);
    assert.deepEqual((img.RootFS as { Layers: string[] }).Layers, busybox.layers.map((l) => l.diffId));
    assert.deepEqual((img.Config as { Cmd: string[] }).Cmd, ['sh']);
    assert.equal(img.Architecture, 'amd64');
    assert.equal(img.Os, 'linux');

    const two = await inspect(labeled.configDigest);
    assert.deepEqual((two.RootFS as { Layers: string[] }).Layers, labeled.layers.map((l) => l.diffId));
    assert.deepEqual((two.Config as { Labels: Record<string, string> }).Labels, { [LABEL_KEY]: LABEL_VALUE });
    // Inspect by short ID resolves to the same image.
    assert.equal((await inspect(short(labeled.configDigest))).Id, labeled.configDigest);

    const missing = await docker(['image', 'inspect', `${registry.host}/test/nosuch`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such image/);
  });

  test('docker history lists the config history, newest first', async () => {
    const res = await ok(['history', '--no-trunc', '--format', '{{.ID}}\t{{.CreatedBy}}', `${registry.host}/test/labeled`]);
    assert.deepEqual(
      lines(res.stdout).map((l) => l.split('\t')),
      [
        [labeled.configDigest, EXTRA_LAYER_CREATED_BY],
        ['<missing>', BUSYBOX_CONFIG.history?.[0]?.created_by],
      ],
    );
  });

  test('the dangling image goes away with docker rmi by ID', async () => {
    const res = await ok(['rmi', danglingId]);
    assert.match(res.stdout, new RegExp(`Deleted: ${danglingId}`));
    assert.deepEqual(lines((await ok(['images', '-q', '--filter', 'dangling=true'])).stdout), []);
  });
});

describe('docker tag and docker push', () => {
  test('push to another repository reuses the exact manifest bytes', async () => {
    await ok(['pull', '-q', `${registry.host}/test/busybox`]);
    await ok(['tag', `${registry.host}/test/busybox`, `${registry.host}/pushed/busybox:v1`]);
    assert.deepEqual((await inspect(`${registry.host}/pushed/busybox:v1`)).Id, busybox.configDigest);

    const res = await ok(['push', `${registry.host}/pushed/busybox:v1`]);
    assert.match(res.stdout, new RegExp(`The push refers to repository \\[${registry.host}/pushed/busybox\\]`));
    assert.match(res.stdout, new RegExp(`v1: digest: ${busybox.manifestDigest} size: ${busybox.manifest.length}`));

    const got = await registryManifest(registry, 'pushed/busybox', 'v1');
    assert.equal(got.digest, busybox.manifestDigest);
    assert.equal(sha256Digest(got.body), busybox.manifestDigest);
    assert.equal(got.type, MEDIA_TYPES.dockerManifest);
    const blob = await fetch(`${registry.url}/v2/pushed/busybox/blobs/${busybox.layers[0]!.digest}`, { method: 'HEAD' });
    assert.equal(blob.status, 200);

    const second = await ok(['push', `${registry.host}/pushed/busybox:v1`]);
    assert.match(second.stdout, new RegExp(`${digestHex(busybox.layers[0]!.diffId).slice(0, 12)}: Layer already exists`));
    assert.match(second.stdout, new RegExp(`v1: digest: ${busybox.manifestDigest}`));
  });

  test('a two-layer image pushes to the same manifest digest it was pulled with', async () => {
    await ok(['pull', '-q', `${registry.host}/test/labeled`]);
    await ok(['tag', `${registry.host}/test/labeled`, `${registry.host}/pushed/labeled`]);
    const res = await ok(['push', `${registry.host}/pushed/labeled`]);
    assert.match(res.stdout, new RegExp(`latest: digest: ${labeled.manifestDigest}`));
    assert.equal((await registryManifest(registry, 'pushed/labeled', 'latest')).digest, labeled.manifestDigest);
  });

  test('pushing a name that does not exist locally fails', async () => {
    const res = await docker(['push', `${registry.host}/pushed/nosuch:v1`]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /An image does not exist locally with the tag: /);
  });
});

describe('docker rmi', () => {
  test('removing one of two tags only untags', async () => {
    await ok(['pull', '-q', `${registry.host}/test/busybox`]);
    await ok(['tag', `${registry.host}/test/busybox`, `${registry.host}/test/busybox:second`]);
    const res = await ok(['rmi', `${registry.host}/test/busybox:second`]);
    assert.deepEqual(lines(res.stdout), [`Untagged: ${registry.host}/test/busybox:second`]);
    assert.equal((await inspect(`${registry.host}/test/busybox`)).Id, busybox.configDigest);
  });

  test('removing by ID an image tagged in two repositories must be forced', async () => {
    await ok(['tag', `${registry.host}/test/busybox`, 'elsewhere/busybox:x']);
    const refused = await docker(['rmi', short(busybox.configDigest)]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      new RegExp(`conflict: unable to delete ${short(busybox.configDigest)} \\(must be forced\\) - image is referenced in multiple repositories`),
    );
    assert.equal((await inspect('elsewhere/busybox:x')).Id, busybox.configDigest);

    const forced = await ok(['rmi', '-f', short(busybox.configDigest)]);
    const out = lines(forced.stdout);
    assert.ok(out.includes('Untagged: elsewhere/busybox:x'), forced.stdout);
    assert.ok(out.includes(`Untagged: ${registry.host}/test/busybox:latest`), forced.stdout);
    assert.ok(out.includes(`Deleted: ${busybox.configDigest}`), forced.stdout);
    const gone = await docker(['image', 'inspect', busybox.configDigest]);
    assert.equal(gone.code, 1);
    // The labeled image still uses the base layer: its files must still be there.
    const left = await inspect(`${registry.host}/test/labeled`);
    const lower = (left.GraphDriver as { Data: { LowerDir: string } }).Data.LowerDir;
    assert.equal((await stat(join(lower, 'bin/busybox'))).size, (await stat(BUSYBOX_BINARY)).size);
  });

  test('after the last image is deleted no snapshot or blob is left', async () => {
    await removeAllImages();
    await assertStoreEmpty();
  });
});

describe('docker save and docker load', () => {
  test('save writes an OCI layout plus manifest.json; load brings back the same image', async () => {
    await ok(['pull', '-q', `${registry.host}/test/busybox`]);
    const file = join(scratch, 'busybox.tar');
    await ok(['save', '-o', file, `${registry.host}/test/busybox`]);
    const names = await tarNames(file);
    for (const n of ['manifest.json', 'index.json', 'oci-layout', `blobs/sha256/${digestHex(busybox.configDigest)}`, `blobs/sha256/${digestHex(busybox.layers[0]!.diffId)}`]) {
      assert.ok(names.includes(n), `${n} missing from ${names.join(', ')}`);
    }
    const { stdout } = await run('tar', ['-xOf', file, 'manifest.json']);
    const manifest = JSON.parse(stdout) as Array<{ Config: string; RepoTags: string[]; Layers: string[] }>;
    assert.deepEqual(manifest, [
      {
        Config: `blobs/sha256/${digestHex(busybox.configDigest)}`,
        RepoTags: [`${registry.host}/test/busybox:latest`],
        Layers: [`blobs/sha256/${digestHex(busybox.layers[0]!.diffId)}`],
      },
    ]);

    await ok(['rmi', `${registry.host}/test/busybox`]);
    assert.equal((await docker(['image', 'inspect', busybox.configDigest])).code, 1);
    const loaded = await ok(['load', '-i', file]);
    assert.match(loaded.stdout, new RegExp(`Loaded image: ${registry.host}/test/busybox:latest`));
    assert.equal((await inspect(`${registry.host}/test/busybox:latest`)).Id, busybox.configDigest);
  });

  test('an image saved by ID loads as an untagged image', async () => {
    const file = join(scratch, 'by-id.tar');
    await ok(['save', '-o', file, busybox.configDigest]);
    await ok(['rmi', `${registry.host}/test/busybox`]);
    const loaded = await ok(['load', '-i', file]);
    assert.match(loaded.stdout, new RegExp(`Loaded image ID: ${busybox.configDigest}`));
    assert.deepEqual((await inspect(busybox.configDigest)).RepoTags, []);
    await ok(['rmi', busybox.configDigest]);
  });

  test("docker load of an archive as Docker itself writes it", async () => {
    const archive = await dockerSaveTar(labeled, ['saved/labeled:v1']);
    const loaded = await ok(['load'], { input: archive });
    assert.match(loaded.stdout, /Loaded image: saved\/labeled:v1/);
    const img = await inspect('saved/labeled:v1');
    assert.equal(img.Id, labeled.configDigest);
    assert.deepEqual((img.RootFS as { Layers: string[] }).Layers, labeled.layers.map((l) => l.diffId));
    const upper = (img.GraphDriver as { Data: { UpperDir: string } }).Data.UpperDir;
    assert.equal(await readFile(join(upper, 'labeled.txt'), 'utf8'), 'labeled\n');
  });

  test('a truncated archive is refused and leaves no image', async () => {
    const archive = await dockerSaveTar(busybox, ['saved/truncated:v1']);
    const res = await docker(['load'], { input: archive.subarray(0, Math.floor(archive.length / 2)) });
    assert.equal(res.code, 1);
    assert.equal((await docker(['image', 'inspect', 'saved/truncated:v1'])).code, 1);
  });
});

describe('platforms and layer formats', () => {
  test('pull --platform linux/arm64 from a multi-platform index picks the arm64 image', async () => {
    const res = await ok(['pull', '--platform', 'linux/arm64', `${registry.host}/test/multi`]);
    assert.match(res.stdout, new RegExp(`Digest: ${multiIndexDigest}`));
    const img = await inspect(`${registry.host}/test/multi`);
    assert.equal(img.Id, arm64.configDigest);
    assert.equal(img.Architecture, 'arm64');
    assert.equal(img.Variant, 'v8');
    assert.deepEqual(img.RepoDigests, [`${registry.host}/test/multi@${multiIndexDigest}`]);

    await ok(['pull', `${registry.host}/test/multi`]);
    const host = await inspect(`${registry.host}/test/multi`);
    assert.equal(host.Id, busybox.configDigest);
    assert.equal(host.Architecture, 'amd64');
  });

  test('gzip layers in an OCI manifest pull, and push back unchanged', async () => {
    await removeAllImages();
    const res = await ok(['pull', `${registry.host}/test/oci`]);
    assert.match(res.stdout, new RegExp(`Digest: ${gzipOci.manifestDigest}`));
    const img = await inspect(`${registry.host}/test/oci`);
    assert.equal(img.Id, gzipOci.configDigest);
    assert.deepEqual(img.RepoDigests, [`${registry.host}/test/oci@${gzipOci.manifestDigest}`]);
    assert.equal((img.Descriptor as { mediaType: string }).mediaType, MEDIA_TYPES.ociManifest);
    await ok(['tag', `${registry.host}/test/oci`, `${registry.host}/pushed/oci`]);
    await ok(['push', `${registry.host}/pushed/oci`]);
    const got = await registryManifest(registry, 'pushed/oci', 'latest');
    assert.equal(got.digest, gzipOci.manifestDigest);
    assert.equal(got.type, MEDIA_TYPES.ociManifest);
  });

  test('zstd layers in an OCI manifest pull and unpack', async () => {
    await removeAllImages();
    const res = await ok(['pull', `${registry.host}/test/zstd`]);
    assert.match(res.stdout, new RegExp(`Digest: ${zstdOci.manifestDigest}`));
    const img = await inspect(`${registry.host}/test/zstd`);
    assert.equal(img.Id, zstdOci.configDigest);
    assert.deepEqual((img.RootFS as { Layers: string[] }).Layers, zstdOci.layers.map((l) => l.diffId));
    assert.equal((img.Descriptor as { mediaType: string }).mediaType, MEDIA_TYPES.ociManifest);
    const data = (img.GraphDriver as { Data: { UpperDir: string; LowerDir: string } }).Data;
    assert.equal(await readFile(join(data.UpperDir, 'zstd.txt'), 'utf8'), 'unpacked from zstd\n');
    assert.deepEqual(await readFile(join(data.LowerDir, 'bin/busybox')), await readFile(BUSYBOX_BINARY));
  });

  test('a layer this daemon holds as zstd is pushed as zstd under a new manifest that pulls back', async () => {
    // The gzip image's layer "already exists" (from the zstd pull), so its gzip blob was never fetched.
    const pulled = await ok(['pull', `${registry.host}/test/oci`]);
    assert.match(pulled.stdout, /Already exists/);
    await ok(['tag', `${registry.host}/test/oci`, `${registry.host}/pushed/mixed`]);
    const res = await ok(['push', `${registry.host}/pushed/mixed`]);
    const printed = /latest: digest: (sha256:[0-9a-f]{64})/.exec(res.stdout)?.[1];
    assert.ok(printed, res.stdout);
    const got = await registryManifest(registry, 'pushed/mixed', 'latest');
    assert.equal(got.digest, printed);
    const doc = JSON.parse(got.body.toString()) as { config: { digest: string }; layers: Array<{ digest: string; mediaType: string; size: number }> };
    assert.equal(doc.config.digest, gzipOci.configDigest);
    assert.deepEqual(doc.layers, [{ mediaType: MEDIA_TYPES.ociLayerZstd, digest: zstdOci.layers[0]!.digest, size: zstdOci.layers[0]!.blob.length }]);

    await removeAllImages();
    await ok(['pull', `${registry.host}/pushed/mixed`]);
    assert.equal((await inspect(`${registry.host}/pushed/mixed`)).Id, gzipOci.configDigest);
  });
});

describe('docker import and docker image prune', () => {
  test("import of a rootfs tarball with --change 'CMD [\"sh\"]'", async () => {
    const { stdout: rootfsTar } = await run('tar', ['-C', await busyboxRootfs(), '-c', '.'], { encoding: 'buffer', maxBuffer: 1 << 26 });
    const res = await ok(['import', '--change', 'CMD ["sh"]', '-', 'imported/busybox:v1'], { input: rootfsTar });
    const id = res.stdout.trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    const img = await inspect('imported/busybox:v1');
    assert.equal(img.Id, id);
    assert.deepEqual((img.Config as { Cmd: string[] }).Cmd, ['sh']);
    assert.equal(img.Comment, 'Imported from -');
    // An uncompressed tarball is the layer itself: its digest is the diff ID.
    assert.deepEqual((img.RootFS as { Layers: string[] }).Layers, [sha256Digest(rootfsTar)]);
    const upper = (img.GraphDriver as { Data: { UpperDir: string } }).Data.UpperDir;
    assert.deepEqual(await readFile(join(upper, 'bin/busybox')), await readFile(BUSYBOX_BINARY));
  });

  test('prune -f removes dangling images only; prune -a -f removes all', async () => {
    await ok(['pull', '-q', `${registry.host}/test/busybox`]);
    const tiny = await buildLayerTar(new Map<string, FileSpec>([['prune-me.txt', { type: 'file', content: 'dangling\n' }]]));
    const dangling = (await ok(['import', '-'], { input: tiny })).stdout.trim();
    const tagged = lines((await ok(['images', '-q', '--filter', 'dangling=false'])).stdout).sort();
    assert.ok(tagged.length >= 2, `expected several tagged images, got ${tagged.join(' ')}`);

    const res = await ok(['image', 'prune', '-f']);
    assert.match(res.stdout, new RegExp(`deleted: ${dangling}`));
    assert.doesNotMatch(res.stdout, /untagged:/);
    assert.deepEqual(lines((await ok(['images', '-q', '--filter', 'dangling=true'])).stdout), []);
    assert.deepEqual(lines((await ok(['images', '-q'])).stdout).sort(), tagged);

    const all = await ok(['image', 'prune', '-a', '-f']);
    assert.match(all.stdout, new RegExp(`deleted: ${busybox.configDigest}`));
    assert.match(all.stdout, /Total reclaimed space: [1-9]/);
    assert.deepEqual(lines((await ok(['images', '-aq'])).stdout), []);
    await assertStoreEmpty();
  });
});

describe('registries: login, mirror, errors', () => {
  // A 401 from the daemon makes the docker CLI prompt for a username and wait: fail rather than hang the suite.
  test('a private registry needs docker login', { timeout: 60_000 }, async () => {
    const config = join(scratch, 'login-config');
    const name = `${privateRegistry.host}/private/busybox:latest`;
    const denied = await docker(['pull', name], { config });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /unauthorized|authentication required/i);

    const wrong = await docker(['login', '-u', PRIVATE_USER, '--password-stdin', privateRegistry.host], { input: 'not-the-password\n', config });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /unauthorized|authentication required|incorrect username or password/i);

    const login = await ok(['login', '-u', PRIVATE_USER, '--password-stdin', privateRegistry.host], { input: `${PRIVATE_PASSWORD}\n`, config });
    assert.match(login.stdout, /Login Succeeded/);
    const saved = JSON.parse(await readFile(join(config, 'config.json'), 'utf8')) as { auths: Record<string, { auth: string }> };
    assert.equal(Buffer.from(saved.auths[privateRegistry.host]?.auth ?? '', 'base64').toString(), `${PRIVATE_USER}:${PRIVATE_PASSWORD}`);

    const pulled = await ok(['pull', name], { config });
    await ok(['tag', name, `${privateRegistry.host}/private/copy:v1`]);
    await ok(['push', `${privateRegistry.host}/private/copy:v1`], { config });
    assert.match(pulled.stdout, new RegExp(`Digest: ${busybox.manifestDigest}`));
    assert.equal((await inspect(name)).Id, busybox.configDigest);
    // The credentials were the CLI's, not the daemon's: without them the pull fails again.
    const otherConfig = join(scratch, 'other-config');
    const again = await docker(['pull', name], { config: otherConfig });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /unauthorized|authentication required/i);
    const push = await docker(['push', `${privateRegistry.host}/private/copy:v1`], { config: otherConfig });
    assert.equal(push.code, 1);
    assert.match(push.stderr, /401 Unauthorized|authentication required/i);
  });

  test('--registry-mirror serves docker pull busybox', async () => {
    await removeAllImages();
    const res = await ok(['pull', 'busybox']);
    assert.match(res.stdout, /latest: Pulling from library\/busybox/);
    assert.match(res.stdout, new RegExp(`Digest: ${busybox.manifestDigest}`));
    assert.match(res.stdout, /Status: Downloaded newer image for busybox:latest/);
    assert.equal(lines(res.stdout).at(-1), 'docker.io/library/busybox:latest');
    const img = await inspect('busybox');
    assert.equal(img.Id, busybox.configDigest);
    assert.deepEqual(img.RepoTags, ['busybox:latest']);
    assert.deepEqual(img.RepoDigests, [`busybox@${busybox.manifestDigest}`]);
    const row = lines((await ok(['images', '--format', '{{.Repository}} {{.Tag}} {{.ID}}'])).stdout);
    assert.deepEqual(row, [`busybox latest ${short(busybox.configDigest)}`]);
  });

  test('a new name for an image already present is not "up to date"', async () => {
    const res = await ok(['pull', `${registry.host}/test/busybox`]);
    assert.match(res.stdout, /Already exists/);
    assert.match(res.stdout, new RegExp(`Status: Downloaded newer image for ${registry.host}/test/busybox:latest`));
  });

  test('a mirror miss fails with not found from the mirror', async () => {
    const res = await docker(['pull', 'nosuch']);
    assert.equal(res.code, 1);
    // "manifest unknown" is the mirror registry's own error code: the answer came from 127.0.0.1.
    assert.match(res.stderr, /manifest for nosuch:latest not found: manifest unknown/);
  });

  test('a missing tag fails with manifest unknown', async () => {
    const res = await docker(['pull', `${registry.host}/test/busybox:nosuch`]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, new RegExp(`manifest for ${registry.host}/test/busybox:nosuch not found: manifest unknown`));
  });

  test('an invalid reference is refused', async () => {
    const res = await docker(['pull', 'Bad:Name']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /invalid reference format/);
  });
});
