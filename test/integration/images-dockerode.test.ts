/**
 * Images through dockerode (the Node Docker client most tools use) against a test berthd: pull with followProgress,
 * listImages, inspect, history, tag, push, save (get) and loadImage, remove, checkAuth — and the HTTP statuses it
 * sees for errors.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Docker from 'dockerode';
import tar from 'tar-stream';
import { type TestDaemon, startDaemon } from '../support/berthd.js';
import { buildBusyboxImage } from '../support/busybox-image.js';
import { type BuiltImage, MEDIA_TYPES, dockerSaveTar, pushImageRaw, pushMultiPlatformRaw } from '../support/oci-build.js';
import { type TestRegistry, startRegistry } from '../support/registry.js';
import { type Digest, digestHex, sha256Digest } from '../../src/util/digest.js';

/** One JSON message of a progress stream. */
interface ProgressMessage {
  status?: string;
  id?: string;
  stream?: string;
  error?: string;
  aux?: { Tag?: string; Digest?: string; Size?: number };
}

/** What dockerode's modem puts on a failed request. */
interface ModemError extends Error {
  statusCode?: number;
  json?: { message?: string } | null;
}

const PRIVATE_USER = 'alice';
// Chosen so that the JSON of {username, password} has '-' and '_' in URL-safe base64, as dockerode sends it.
const PRIVATE_PASSWORD = 's3cret?0>~';

let registry: TestRegistry;
let privateRegistry: TestRegistry;
let daemon: TestDaemon;
let docker: Docker;
let busybox: BuiltImage;
let arm64: BuiltImage;
let multiIndexDigest: Digest;

const short = (d: Digest): string => digestHex(d).slice(0, 12);

function follow(stream: NodeJS.ReadableStream): Promise<ProgressMessage[]> {
  return new Promise((resolve, reject) => {
    (docker.modem as { followProgress(s: NodeJS.ReadableStream, done: (err: Error | null, out: ProgressMessage[]) => void): void }).followProgress(
      stream,
      (err, out) => (err ? reject(err) : resolve(out)),
    );
  });
}

async function pull(name: string, opts: Record<string, unknown> = {}): Promise<ProgressMessage[]> {
  return follow((await docker.pull(name, opts)) as NodeJS.ReadableStream);
}

function statuses(out: ProgressMessage[]): string[] {
  return out.map((m) => m.status ?? m.stream ?? '');
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer | string>) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  return Buffer.concat(chunks);
}

async function tarEntries(archive: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        out.set(header.name.replace(/^\.\//, '').replace(/\/$/, ''), Buffer.concat(chunks));
        next();
      });
      stream.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(archive);
  await done;
  return out;
}

async function rejection(p: Promise<unknown>): Promise<ModemError> {
  try {
    await p;
  } catch (e) {
    return e as ModemError;
  }
  assert.fail('expected the request to fail');
}

/** Streamed endpoints (pull, push, load) leave the daemon's message in the error text only. */
function messageOf(err: ModemError): string {
  return err.json?.message ?? err.message;
}

async function removeAllImages(): Promise<void> {
  for (const img of await docker.listImages({ all: true })) await docker.getImage(img.Id).remove({ force: true });
  assert.deepEqual(await docker.listImages({ all: true }), []);
}

before(async () => {
  registry = await startRegistry();
  privateRegistry = await startRegistry({ htpasswd: { user: PRIVATE_USER, password: PRIVATE_PASSWORD } });
  busybox = await buildBusyboxImage();
  await pushImageRaw(registry.url, 'test/busybox', 'latest', busybox);
  const multi = await pushMultiPlatformRaw(registry.url, 'test/multi', 'latest', busybox, { format: 'oci' });
  arm64 = multi.arm64;
  multiIndexDigest = multi.index.digest;
  await pushImageRaw(privateRegistry.url, 'private/busybox', 'latest', busybox, { user: PRIVATE_USER, password: PRIVATE_PASSWORD });
  daemon = await startDaemon();
  docker = new Docker({ socketPath: daemon.socket });
});

after(async () => {
  await daemon?.stop();
  await registry?.stop();
  await privateRegistry?.stop();
});

describe('dockerode', () => {
  test('pull with followProgress, then listImages and inspect', async () => {
    const name = `${registry.host}/test/busybox:latest`;
    const out = await pull(name);
    assert.ok(out.every((m) => m.error === undefined), JSON.stringify(out));
    const s = statuses(out);
    assert.ok(s.includes(`Digest: ${busybox.manifestDigest}`), s.join('\n'));
    assert.ok(s.includes(`Status: Downloaded newer image for ${name}`), s.join('\n'));
    assert.ok(out.some((m) => m.id === short(busybox.layers[0]!.digest) && m.status === 'Pull complete'), s.join('\n'));

    const list = await docker.listImages();
    assert.equal(list.length, 1);
    assert.equal(list[0]!.Id, busybox.configDigest);
    assert.deepEqual(list[0]!.RepoTags, [name]);
    assert.deepEqual(list[0]!.RepoDigests, [`${registry.host}/test/busybox@${busybox.manifestDigest}`]);
    assert.equal(list[0]!.Size, (await docker.getImage(name).inspect()).Size);
    const filtered = await docker.listImages({ filters: { reference: [`${registry.host}/test/nosuch`] } });
    assert.deepEqual(filtered, []);

    const info = await docker.getImage(name).inspect();
    assert.equal(info.Id, busybox.configDigest);
    assert.deepEqual(info.RootFS.Layers, busybox.layers.map((l) => l.diffId));
    assert.deepEqual(info.Config.Cmd, ['sh']);
    assert.equal(info.Architecture, 'amd64');

    const history = (await docker.getImage(name).history()) as Array<{ Id: string; CreatedBy: string }>;
    assert.equal(history.length, 1);
    assert.equal(history[0]!.Id, busybox.configDigest);

    const again = statuses(await pull(name));
    assert.ok(again.includes(`Status: Image is up to date for ${name}`), again.join('\n'));
  });

  test('pull with platform picks the arm64 image of an OCI index', async () => {
    const out = await pull(`${registry.host}/test/multi:latest`, { platform: 'linux/arm64' });
    assert.ok(statuses(out).includes(`Digest: ${multiIndexDigest}`));
    const info = await docker.getImage(`${registry.host}/test/multi`).inspect();
    assert.equal(info.Id, arm64.configDigest);
    assert.equal(info.Architecture, 'arm64');
    await docker.getImage(arm64.configDigest).remove();
  });

  test('tag, then push with an empty authconfig keeps the manifest digest', async () => {
    const image = docker.getImage(`${registry.host}/test/busybox`);
    await image.tag({ repo: `${registry.host}/pushed/busybox`, tag: 'v2' });
    assert.equal((await docker.getImage(`${registry.host}/pushed/busybox:v2`).inspect()).Id, busybox.configDigest);

    const pushed = docker.getImage(`${registry.host}/pushed/busybox`);
    const out = await follow(await pushed.push({ tag: 'v2', authconfig: {} }));
    assert.ok(out.every((m) => m.error === undefined), JSON.stringify(out));
    const aux = out.find((m) => m.aux)?.aux;
    assert.deepEqual(aux, { Tag: 'v2', Digest: busybox.manifestDigest, Size: busybox.manifest.length });

    const res = await fetch(`${registry.url}/v2/pushed/busybox/manifests/v2`, {
      headers: { accept: `${MEDIA_TYPES.dockerManifest}, ${MEDIA_TYPES.ociManifest}` },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-content-digest'), busybox.manifestDigest);
    assert.equal(sha256Digest(Buffer.from(await res.arrayBuffer())), busybox.manifestDigest);

    const second = await follow(await pushed.push({ tag: 'v2', authconfig: {} }));
    assert.ok(second.some((m) => m.status === 'Layer already exists' && m.id === short(busybox.layers[0]!.diffId)), JSON.stringify(second));
  });

  test('remove: untag one of two names, 409 for two repositories, force deletes', async () => {
    const untag = (await docker.getImage(`${registry.host}/pushed/busybox:v2`).remove()) as Array<Record<string, string>>;
    assert.deepEqual(untag, [{ Untagged: `${registry.host}/pushed/busybox:v2` }]);

    await docker.getImage(busybox.configDigest).tag({ repo: 'elsewhere/busybox', tag: 'x' });
    const err = await rejection(docker.getImage(short(busybox.configDigest)).remove());
    assert.equal(err.statusCode, 409);
    assert.match(messageOf(err), new RegExp(`unable to delete ${short(busybox.configDigest)} \\(must be forced\\) - image is referenced in multiple repositories`));

    const forced = (await docker.getImage(short(busybox.configDigest)).remove({ force: true })) as Array<Record<string, string>>;
    assert.ok(forced.some((i) => i.Untagged === 'elsewhere/busybox:x'), JSON.stringify(forced));
    assert.ok(forced.some((i) => i.Deleted === busybox.configDigest), JSON.stringify(forced));
    assert.deepEqual(await docker.listImages({ all: true }), []);
    assert.deepEqual(await readdir(join(daemon.dataRoot, 'overlay/snapshots')), []);
    assert.deepEqual(await readdir(join(daemon.dataRoot, 'content/blobs/sha256')), []);
  });

  test('save with get(), remove, loadImage brings back the same image', async () => {
    const name = `${registry.host}/test/busybox:latest`;
    await pull(name);
    const archive = await readAll(await docker.getImage(name).get());
    const files = await tarEntries(archive);
    for (const f of ['manifest.json', 'index.json', 'oci-layout']) assert.ok(files.has(f), `${f} missing`);
    assert.deepEqual(files.get(`blobs/sha256/${digestHex(busybox.configDigest)}`), busybox.config);
    assert.deepEqual(files.get(`blobs/sha256/${digestHex(busybox.layers[0]!.diffId)}`), busybox.layers[0]!.tar);

    await docker.getImage(name).remove();
    const out = await follow(await docker.loadImage(Readable.from([archive])));
    assert.ok(statuses(out).some((s) => s.includes(`Loaded image: ${name}`)), JSON.stringify(out));
    assert.equal((await docker.getImage(name).inspect()).Id, busybox.configDigest);

    // An archive as Docker itself writes it loads too.
    const foreign = await dockerSaveTar(busybox, ['saved/busybox:v1']);
    const loaded = await follow(await docker.loadImage(Readable.from([foreign])));
    assert.ok(statuses(loaded).some((s) => s.includes('Loaded image: saved/busybox:v1')), JSON.stringify(loaded));
    assert.equal((await docker.getImage('saved/busybox:v1').inspect()).Id, busybox.configDigest);
  });

  test('errors carry Docker status codes and messages', async () => {
    const missing = await rejection(docker.pull(`${registry.host}/test/busybox:nosuch`));
    assert.equal(missing.statusCode, 404);
    assert.match(messageOf(missing), /manifest for .*test\/busybox:nosuch not found: manifest unknown/);

    const bad = await rejection(docker.pull('Bad:Name'));
    assert.equal(bad.statusCode, 400);
    assert.match(messageOf(bad), /invalid reference format/);

    const noImage = await rejection(docker.getImage('nosuch/image:1').inspect());
    assert.equal(noImage.statusCode, 404);
    assert.match(messageOf(noImage), /No such image: nosuch\/image:1/);
  });

  test('a private registry: checkAuth, then pull with authconfig', async () => {
    const authconfig = { username: PRIVATE_USER, password: PRIVATE_PASSWORD };
    assert.match(Buffer.from(JSON.stringify(authconfig)).toString('base64url'), /[-_]/);
    const name = `${privateRegistry.host}/private/busybox:latest`;

    const denied = await rejection(docker.pull(name));
    // Not 401: that would make the docker CLI prompt for a login instead of failing.
    assert.notEqual(denied.statusCode, 401);
    assert.match(messageOf(denied), /unauthorized|authentication required/i);

    const wrong = await rejection(docker.checkAuth({ ...authconfig, password: 'wrong', serveraddress: privateRegistry.host }));
    assert.equal(wrong.statusCode, 401);
    const login = (await docker.checkAuth({ ...authconfig, serveraddress: privateRegistry.host })) as { Status: string };
    assert.equal(login.Status, 'Login Succeeded');

    const out = await pull(name, { authconfig });
    assert.ok(statuses(out).includes(`Digest: ${busybox.manifestDigest}`), JSON.stringify(out));
    assert.equal((await docker.getImage(name).inspect()).Id, busybox.configDigest);
    await removeAllImages();
  });
});
