/**
 * berth's own CLI (bin/berth) against a real berthd and a real registry with htpasswd auth:
 * the image verbs, login/logout, version and info, and pull's progress drawn on a pty.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { BERTH_BIN, type CliResult, type TestDaemon, runCli, startDaemon } from '../support/berthd.js';
import { buildBusyboxImage } from '../support/busybox-image.js';
import { type BuiltImage, type FileSpec, buildImage, pushImageRaw } from '../support/oci-build.js';
import { type TestRegistry, startRegistry } from '../support/registry.js';
import { digestHex } from '../../src/util/digest.js';

const run = promisify(execFile);

const USER = 'berth-user';
const PASSWORD = 'berth-secret';

/** Lists the entry names of a tar file. */
async function tarEntries(file: string): Promise<string[]> {
  const names: string[] = [];
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    names.push(header.name);
    stream.on('end', next);
    stream.resume();
  });
  const done = new Promise<void>((resolve, reject) => {
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(await readFile(file));
  await done;
  return names;
}

function ok(r: CliResult, what: string): void {
  assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
}

describe('berth CLI: images', () => {
  let registry: TestRegistry;
  let daemon: TestDaemon;
  let work: string;
  let configDir: string;
  let busybox: BuiltImage;
  let app: BuiltImage;
  let busyboxRef: string;
  let appRef: string;
  let ttyImage: BuiltImage;
  let ttyRef: string;
  /** DOCKER_CONFIG points elsewhere, so the tests show --config is what decides. */
  let envConfigDir: string;
  const cli = (args: string[], input?: string): Promise<CliResult> =>
    runCli('berth', ['--config', configDir, ...args], daemon, { input, env: { DOCKER_CONFIG: envConfigDir } });

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-cli-test-'));
    configDir = join(work, 'docker-config');
    envConfigDir = join(work, 'env-config');
    registry = await startRegistry({ htpasswd: { user: USER, password: PASSWORD } });
    const auth = { user: USER, password: PASSWORD };
    busybox = await buildBusyboxImage();
    app = await buildBusyboxImage({
      extraLayers: [new Map<string, FileSpec>([['app/hello.txt', { type: 'file', content: 'hello from app\n' }]])],
    });
    busyboxRef = `${registry.host}/library/busybox:1.36`;
    appRef = `${registry.host}/team/app:v1`;
    await pushImageRaw(registry.url, 'library/busybox', '1.36', busybox, auth);
    await pushImageRaw(registry.url, 'team/app', 'v1', app, auth);
    // Its own incompressible layer, so the pty pull really downloads something.
    ttyImage = await buildImage({ layers: [new Map<string, FileSpec>([['blob.bin', { type: 'file', content: randomBytes(3 << 20) }]])] });
    ttyRef = `${registry.host}/team/tty:v1`;
    await pushImageRaw(registry.url, 'team/tty', 'v1', ttyImage, auth);
    daemon = await startDaemon();
  });

  after(async () => {
    await daemon?.stop();
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('pull without credentials fails with the registry\'s complaint', async () => {
    const r = await cli(['pull', busyboxRef]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /^Error response from daemon: .*(unauthorized|authentication required|no basic auth)/im);
    assert.equal((await cli(['images', '-q'])).stdout, '');
  });

  it('login with a wrong password fails and writes no config', async () => {
    const r = await cli(['login', '-u', USER, '--password-stdin', registry.host], 'wrong\n');
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /Error response from daemon: .*(unauthorized|401)/i);
    await assert.rejects(stat(join(configDir, 'config.json')), { code: 'ENOENT' });
  });

  it('login stores the credentials in config.json with mode 0600', async () => {
    const r = await cli(['login', '-u', USER, '--password-stdin', registry.host], `${PASSWORD}\n`);
    ok(r, 'login');
    assert.equal(r.stdout, 'Login Succeeded\n');
    assert.match(r.stderr, new RegExp(`credentials are stored unencrypted in '${join(configDir, 'config.json')}'`));
    const st = await stat(join(configDir, 'config.json'));
    assert.equal(st.mode & 0o777, 0o600);
    const doc = JSON.parse(await readFile(join(configDir, 'config.json'), 'utf8')) as { auths: Record<string, { auth?: string }> };
    assert.equal(doc.auths[registry.host]?.auth, Buffer.from(`${USER}:${PASSWORD}`).toString('base64'));
    await assert.rejects(stat(join(envConfigDir, 'config.json')), { code: 'ENOENT' });
  });

  it('pull prints one line per step (no bars off a terminal) and the full reference last', async () => {
    const r = await cli(['pull', appRef]);
    ok(r, 'pull');
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'v1: Pulling from team/app');
    assert.equal(lines[lines.length - 1], appRef);
    assert.equal(lines[lines.length - 2], `Status: Downloaded newer image for ${appRef}`);
    assert.match(lines[lines.length - 3]!, /^Digest: sha256:[a-f0-9]{64}$/);
    assert.equal(lines[lines.length - 3], `Digest: ${app.manifestDigest}`);
    for (const layer of app.layers) {
      const id = digestHex(layer.digest).slice(0, 12);
      assert.ok(lines.includes(`${id}: Pulling fs layer`), r.stdout);
      assert.ok(lines.includes(`${id}: Pull complete`), r.stdout);
    }
    assert.doesNotMatch(r.stdout, /\[=+|Downloading|\r|\x1b/);

    const again = await cli(['pull', appRef]);
    ok(again, 'second pull');
    assert.match(again.stdout, new RegExp(`: Already exists\\n`));
    assert.match(again.stdout, new RegExp(`Status: Image is up to date for ${appRef.replace(/\./g, '\\.')}\\n${appRef.replace(/\./g, '\\.')}\\n$`));
  });

  it('pull -q prints only the reference', async () => {
    const r = await cli(['pull', '-q', busyboxRef]);
    ok(r, 'pull -q');
    assert.equal(r.stdout, `${busyboxRef}\n`);
  });

  it('images: table, -q, --no-trunc, --digests, --format', async () => {
    const table = await cli(['images']);
    ok(table, 'images');
    const rows = table.stdout.trimEnd().split('\n');
    assert.match(rows[0]!, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    assert.equal(rows.length, 3);
    const appId = app.configDigest;
    const bbId = busybox.configDigest;
    const appRow = rows.find((l) => l.startsWith(`${registry.host}/team/app `));
    assert.ok(appRow, table.stdout);
    assert.match(appRow, new RegExp(`^${registry.host}/team/app\\s+v1\\s+${digestHex(appId).slice(0, 12)}\\s+`));

    const quiet = await cli(['images', '-q']);
    ok(quiet, 'images -q');
    assert.deepEqual(quiet.stdout.trim().split('\n').sort(), [digestHex(appId).slice(0, 12), digestHex(bbId).slice(0, 12)].sort());

    const noTrunc = await cli(['images', '-q', '--no-trunc']);
    assert.deepEqual(noTrunc.stdout.trim().split('\n').sort(), [appId, bbId].sort());
    const noTruncTable = await cli(['images', '--no-trunc']);
    assert.ok(noTruncTable.stdout.includes(appId), noTruncTable.stdout);

    const digests = await cli(['images', '--digests']);
    ok(digests, 'images --digests');
    assert.match(digests.stdout.split('\n')[0]!, /^REPOSITORY\s+TAG\s+DIGEST\s+IMAGE ID\s+CREATED\s+SIZE$/);
    assert.match(digests.stdout, new RegExp(`team/app\\s+v1\\s+${app.manifestDigest}\\s+${digestHex(appId).slice(0, 12)}`));

    const fmt = await cli(['images', '--format', '{{.Repository}}|{{.Tag}}|{{.ID}}', `${registry.host}/team/app`]);
    ok(fmt, 'images --format');
    assert.equal(fmt.stdout, `${registry.host}/team/app|v1|${digestHex(appId).slice(0, 12)}\n`);

    const json = await cli(['images', '--format', '{{json .}}']);
    const parsed = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { Repository: string; Tag: string; Digest: string });
    assert.deepEqual(parsed.map((p) => `${p.Repository}:${p.Tag}`).sort(), [busyboxRef, appRef].sort());
  });

  it('image inspect shows ids, tags, digests and the layers', async () => {
    const r = await cli(['image', 'inspect', appRef]);
    ok(r, 'image inspect');
    const [doc] = JSON.parse(r.stdout) as Array<{
      Id: string;
      RepoTags: string[];
      RepoDigests: string[];
      RootFS: { Type: string; Layers: string[] };
      Architecture: string;
      Os: string;
    }>;
    assert.ok(doc);
    assert.equal(doc.Id, app.configDigest);
    assert.deepEqual(doc.RepoTags, [appRef]);
    assert.deepEqual(doc.RepoDigests, [`${registry.host}/team/app@${app.manifestDigest}`]);
    assert.deepEqual(doc.RootFS, { Type: 'layers', Layers: app.layers.map((l) => l.diffId) });
    assert.equal(`${doc.Os}/${doc.Architecture}`, 'linux/amd64');

    const fmt = await cli(['image', 'inspect', '--format', '{{.Id}} {{len .RootFS.Layers}}', appRef]);
    assert.equal(fmt.stdout, `${app.configDigest} 2\n`);

    const missing = await cli(['image', 'inspect', 'no-such-image:nope']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such image: no-such-image:nope/);
  });

  it('history lists one row per layer, newest first', async () => {
    const r = await cli(['history', appRef]);
    ok(r, 'history');
    const rows = r.stdout.trimEnd().split('\n');
    assert.match(rows[0]!, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    assert.equal(rows.length, 3);
    assert.match(rows[1]!, new RegExp(`^${digestHex(app.configDigest).slice(0, 12)}\\s+.*extra layer 0\\s+15B`));
    assert.match(rows[2]!, /^<missing>\s+.*ADD file:busybox-static/);
    const q = await cli(['history', '-q', '--no-trunc', appRef]);
    assert.equal(q.stdout, `${app.configDigest}\n<missing>\n`);
  });

  it('tag then push to a new repository, and the registry serves the same manifest', async () => {
    const target = `${registry.host}/team/copy:v2`;
    ok(await cli(['tag', appRef, target]), 'tag');
    const fmt = await cli(['images', '--format', '{{.ID}}', `${registry.host}/team/copy`]);
    assert.equal(fmt.stdout, `${digestHex(app.configDigest).slice(0, 12)}\n`);

    const r = await cli(['push', target]);
    ok(r, 'push');
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[0], `The push refers to repository [${registry.host}/team/copy]`);
    assert.equal(lines[lines.length - 1], `v2: digest: ${app.manifestDigest} size: ${app.manifest.length}`);

    const res = await fetch(`${registry.url}/v2/team/copy/manifests/v2`, {
      method: 'HEAD',
      headers: {
        accept: app.manifestMediaType,
        authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`,
      },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-content-digest'), app.manifestDigest);

    const bad = await cli(['tag', 'no-such-image', 'x:y']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /No such image: no-such-image/);
  });

  it('save -o, rmi, load -i round-trip the image', async () => {
    const file = join(work, 'app.tar');
    ok(await cli(['save', '-o', file, appRef]), 'save');
    const names = await tarEntries(file);
    assert.ok(names.includes('manifest.json'), names.join(' '));
    assert.ok(names.includes('index.json'), names.join(' '));
    for (const l of app.layers) assert.ok(names.includes(`blobs/sha256/${digestHex(l.diffId)}`), `layer ${l.diffId} missing`);

    const rmi = await cli(['rmi', appRef, `${registry.host}/team/copy:v2`]);
    ok(rmi, 'rmi');
    assert.match(rmi.stdout, new RegExp(`^Untagged: ${appRef}\n`));
    assert.ok(rmi.stdout.includes(`Deleted: ${app.configDigest}\n`), rmi.stdout);
    // the busybox layer stays (busybox:1.36 uses it); only app's own top layer goes
    const inspect = await cli(['image', 'inspect', appRef]);
    assert.equal(inspect.code, 1);

    const load = await cli(['load', '-i', file]);
    ok(load, 'load');
    assert.equal(load.stdout.trim().split('\n').pop(), `Loaded image: ${appRef}`);
    const again = await cli(['image', 'inspect', '--format', '{{.Id}}', appRef]);
    assert.equal(again.stdout, `${app.configDigest}\n`);

    const missing = await cli(['load', '-i', join(work, 'nope.tar')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.tar/);
  });

  it('import makes a one-layer image from a rootfs tarball', async () => {
    const rootfs = await buildImage({ layers: [new Map<string, FileSpec>([['etc/motd', { type: 'file', content: 'imported\n' }]])] });
    const file = join(work, 'rootfs.tar');
    await writeFile(file, rootfs.layers[0]!.tar);
    const r = await cli(['import', '-m', 'from a test', '-c', 'CMD ["/bin/true"]', file, 'imported:v1']);
    ok(r, 'import');
    assert.match(r.stdout, /^sha256:[a-f0-9]{64}\n$/);
    const id = r.stdout.trim();
    const fmt = await cli(['image', 'inspect', '--format', '{{.Id}} {{json .Config.Cmd}} {{.Comment}} {{index .RootFS.Layers 0}}', 'imported:v1']);
    ok(fmt, 'inspect imported');
    assert.equal(fmt.stdout, `${id} ["/bin/true"] from a test ${rootfs.layers[0]!.diffId}\n`);
  });

  it('image prune -f removes dangling images only', async () => {
    // Untagging the imported image by retagging its name onto busybox leaves it dangling.
    ok(await cli(['tag', busyboxRef, 'imported:v1']), 'retag');
    const before = (await cli(['images', '-q', '--no-trunc', '--filter', 'dangling=true'])).stdout.trim().split('\n');
    assert.equal(before.length, 1, before.join(','));
    const r = await cli(['image', 'prune', '-f']);
    ok(r, 'image prune');
    assert.match(r.stdout, new RegExp(`^Deleted Images:\\ndeleted: ${before[0]}\\n`));
    assert.match(r.stdout, /Total reclaimed space: \d/);
    assert.equal((await cli(['images', '-q', '--filter', 'dangling=true'])).stdout, '');
    const empty = await cli(['image', 'prune', '-f']);
    assert.equal(empty.stdout, 'Total reclaimed space: 0B\n');
    ok(await cli(['rmi', 'imported:v1']), 'rmi imported');
  });

  it('version shows client and server; info --format {{.Images}} counts images', async () => {
    const v = await cli(['version']);
    ok(v, 'version');
    assert.match(v.stdout, /^Client:\n Version:\s+\S+\n API version:\s+1\.\d+/);
    assert.match(v.stdout, /\nServer: /);
    const sv = await cli(['version', '--format', '{{.Server.APIVersion}}']);
    assert.equal(sv.stdout, '1.50\n');

    const count = (await cli(['images', '-q', '--no-trunc'])).stdout.trim().split('\n').filter(Boolean).length;
    assert.equal(count, 2);
    const info = await cli(['info', '--format', '{{.Images}}']);
    ok(info, 'info');
    assert.equal(info.stdout, `${count}\n`);
  });

  it('pull on a terminal draws docker-style bars and finishes each layer with Pull complete', async () => {
    const command = `stty cols 200 rows 50; exec ${process.execPath} ${BERTH_BIN} --config ${configDir} pull ${ttyRef}`;
    const { stdout } = await run('script', ['-qfc', command, '/dev/null'], {
      env: { ...daemon.env, DOCKER_CONFIG: envConfigDir },
      maxBuffer: 16 << 20,
    });
    const id = digestHex(ttyImage.layers[0]!.digest).slice(0, 12);
    assert.match(stdout, new RegExp(`${id}: Downloading \\[=+>`));
    // the cursor-up/clear-line redraws docker does on a terminal
    assert.ok(stdout.includes('\x1b[1A\x1b[2K\r'), JSON.stringify(stdout));
    const layerStates = [...stdout.matchAll(new RegExp(`${id}: ([A-Za-z ]+?) *(?:\\[|\\r)`, 'g'))].map((m) => m[1]);
    assert.equal(layerStates[0], 'Pulling fs layer', JSON.stringify(layerStates));
    assert.equal(layerStates[layerStates.length - 1], 'Pull complete', JSON.stringify(layerStates));
    assert.ok(stdout.endsWith(`Status: Downloaded newer image for ${ttyRef}\r\n${ttyRef}\r\n`), JSON.stringify(stdout.slice(-300)));
    ok(await cli(['rmi', ttyRef]), 'rmi');
  });

  it('logout removes the credentials, and pulls need them again', async () => {
    const r = await cli(['logout', registry.host]);
    ok(r, 'logout');
    assert.equal(r.stdout, `Removing login credentials for ${registry.host}\n`);
    const doc = JSON.parse(await readFile(join(configDir, 'config.json'), 'utf8')) as { auths?: Record<string, unknown> };
    assert.equal(doc.auths?.[registry.host], undefined);
    assert.equal((await stat(join(configDir, 'config.json'))).mode & 0o777, 0o600);
    const again = await cli(['logout', registry.host]);
    assert.equal(again.stdout, `Not logged in to ${registry.host}\n`);
    ok(await cli(['rmi', busyboxRef]), 'rmi');
    const pull = await cli(['pull', busyboxRef]);
    assert.equal(pull.code, 1);
  });
});
