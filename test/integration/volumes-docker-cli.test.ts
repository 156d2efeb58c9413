import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { importBusybox } from '../support/busybox-image.js';
import { runCli, startDaemon, type TestDaemon } from '../support/berthd.js';
import type { MountView } from '../../src/engine/volumes/mount-specs.js';

let daemon: TestDaemon;
let dataRoot: string;
let hostDir: string;

const docker = (args: string[], input?: string) => runCli('docker', args, daemon, input === undefined ? {} : { input });

async function ok(args: string[]): Promise<string> {
  const r = await docker(args);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function apiGet<T>(p: string): Promise<T> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath: daemon.socket, path: p }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(JSON.parse(body) as T));
      })
      .on('error', reject);
  });
}

function apiPost(p: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: daemon.socket, path: p, method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** Docker's way of counting: apparent sizes of everything but directories, as `find` prints them. */
function findSize(dir: string): number {
  const out = spawnSync('find', [dir, '!', '-type', 'd', '-printf', '%s\\n'], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter(Boolean).reduce((n, s) => n + Number(s), 0);
}

async function mountsOf(container: string): Promise<MountView[]> {
  return JSON.parse(await ok(['inspect', '-f', '{{json .Mounts}}', container])) as MountView[];
}

async function volumeNames(): Promise<string[]> {
  return (await ok(['volume', 'ls', '-q'])).split('\n').filter(Boolean);
}

before(async () => {
  dataRoot = mkdtempSync(path.join(tmpdir(), 'berth-vol-data-'));
  hostDir = mkdtempSync(path.join(tmpdir(), 'berth-vol-host-'));
  daemon = await startDaemon({ dataRoot });
  await importBusybox(daemon);
});

after(async () => {
  const ids = (await docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
  if (ids.length) await docker(['rm', '-f', ...ids]);
  await docker(['volume', 'prune', '-af']);
  await daemon?.stop();
  rmSync(dataRoot, { recursive: true, force: true });
  rmSync(hostDir, { recursive: true, force: true });
});

test('data written to a named volume is there in the next container; inspect shows Docker\'s shapes', async () => {
  assert.equal((await ok(['volume', 'create', '--label', 'team=a', 'data1'])).trim(), 'data1');
  await ok(['run', '--rm', '-v', 'data1:/d', 'busybox', 'sh', '-c', 'echo hello > /d/f']);
  assert.equal(await ok(['run', '--rm', '-v', 'data1:/d:ro', 'busybox', 'cat', '/d/f']), 'hello\n');
  const [v] = JSON.parse(await ok(['volume', 'inspect', 'data1'])) as Array<Record<string, unknown>>;
  assert.equal(v.Name, 'data1');
  assert.equal(v.Driver, 'local');
  assert.equal(v.Scope, 'local');
  assert.deepEqual(v.Labels, { team: 'a' });
  assert.equal(v.Mountpoint, path.join(dataRoot, 'volumes', 'data1', '_data'));
  assert.match(String(v.CreatedAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(readFileSync(path.join(String(v.Mountpoint), 'f'), 'utf8'), 'hello\n');

  await ok(['create', '--name', 'shapes', '-v', 'data1:/d', '-v', `${hostDir}:/h:ro`, '--mount', 'type=tmpfs,dst=/t,tmpfs-size=1m', 'busybox', 'true']);
  const mounts = await mountsOf('shapes');
  assert.deepEqual(JSON.stringify(mounts.find((m) => m.Destination === '/d')), JSON.stringify({
    Type: 'volume', Name: 'data1', Source: String(v.Mountpoint), Destination: '/d', Driver: 'local', Mode: 'z', RW: true, Propagation: '',
  }));
  assert.deepEqual(JSON.stringify(mounts.find((m) => m.Destination === '/h')), JSON.stringify({
    Type: 'bind', Source: hostDir, Destination: '/h', Mode: 'ro', RW: false, Propagation: 'rprivate',
  }));
  assert.equal(mounts.find((m) => m.Destination === '/t')?.Type, 'tmpfs');
  assert.equal((await ok(['ps', '-a', '--filter', 'volume=data1', '--format', '{{.Names}}'])).trim(), 'shapes');
  assert.equal((await ok(['ps', '-a', '--filter', 'volume=/nowhere', '--format', '{{.Names}}'])).trim(), '');

  // A volume any container references, even a stopped one, cannot go.
  const inUse = await docker(['volume', 'rm', 'data1']);
  assert.notEqual(inUse.code, 0);
  const id = (await ok(['inspect', '-f', '{{.Id}}', 'shapes'])).trim();
  assert.match(inUse.stderr, new RegExp(`remove data1: volume is in use - \\[${id}\\]`));
  assert.equal((await ok(['volume', 'ls', '--filter', 'label=team=a', '--format', '{{.Name}} {{.Driver}}'])).trim(), 'data1 local');
  assert.equal((await ok(['volume', 'ls', '--filter', 'dangling=true', '-q'])).trim(), '');
  await ok(['rm', 'shapes']);
  assert.deepEqual((await ok(['volume', 'ls', '--filter', 'dangling=true', '-q'])).trim(), 'data1');
  await ok(['volume', 'rm', 'data1']);
  assert.equal(existsSync(path.join(dataRoot, 'volumes', 'data1')), false);
  const gone = await docker(['volume', 'inspect', 'data1']);
  assert.match(gone.stderr, /no such volume/);
});

test('an image VOLUME becomes an anonymous volume with the image content copied up; rm -v removes only anonymous volumes', async () => {
  await ok(['run', '--name', 'maker', 'busybox', 'sh', '-c', 'mkdir /data && echo img > /data/a && ln -s a /data/l && chown 65534:65534 /data/a && chmod 750 /data']);
  await ok(['commit', '--change', 'VOLUME /data', 'maker', 'withvol:latest']);
  await ok(['rm', 'maker']);
  await ok(['run', '--name', 'cu', '-v', 'keepme:/named', 'withvol', 'sh', '-c', 'cat /data/a']);
  const mounts = await mountsOf('cu');
  const anon = mounts.find((m) => m.Destination === '/data')!;
  assert.equal(anon.Type, 'volume');
  assert.match(anon.Name!, /^[0-9a-f]{64}$/);
  assert.equal(anon.Mode, '');
  const labels = JSON.parse(await ok(['volume', 'inspect', '-f', '{{json .Labels}}', anon.Name!])) as Record<string, string>;
  assert.deepEqual(labels, { 'com.docker.volume.anonymous': '' });
  assert.equal(readFileSync(path.join(anon.Source, 'a'), 'utf8'), 'img\n');
  assert.equal(readlinkSync(path.join(anon.Source, 'l')), 'a');
  assert.equal(statSync(path.join(anon.Source, 'a')).uid, 65534);
  assert.equal(statSync(anon.Source).mode & 0o777, 0o750);

  // nocopy: the image's content is not copied.
  await ok(['run', '--rm', '-v', 'empty1:/data:nocopy', 'withvol', 'true']);
  assert.deepEqual(JSON.parse(await ok(['volume', 'inspect', '-f', '{{json .Mountpoint}}', 'empty1'])) && spawnSync('ls', ['-A', path.join(dataRoot, 'volumes', 'empty1', '_data')], { encoding: 'utf8' }).stdout, '');

  await ok(['rm', '-v', 'cu']);
  const names = await volumeNames();
  assert.ok(!names.includes(anon.Name!), 'the anonymous volume is removed');
  assert.ok(names.includes('keepme'), 'the named volume stays');

  // run --rm removes its anonymous volumes too.
  const before = (await volumeNames()).length;
  await ok(['run', '--rm', '-v', '/scratch', 'busybox', 'true']);
  assert.equal((await volumeNames()).length, before);
  await ok(['volume', 'rm', 'keepme', 'empty1']);
  await ok(['rmi', 'withvol']);
});

test('--volumes-from shares the volumes, :ro makes them read-only', async () => {
  await ok(['run', '--name', 'vf1', '-v', 'shared1:/shared', '-v', '/anonshared', 'busybox', 'sh', '-c', 'echo x > /shared/x; echo y > /anonshared/y']);
  assert.equal(await ok(['run', '--rm', '--volumes-from', 'vf1', 'busybox', 'cat', '/shared/x', '/anonshared/y']), 'x\ny\n');
  const ro = await docker(['run', '--rm', '--volumes-from', 'vf1:ro', 'busybox', 'sh', '-c', 'cat /shared/x; touch /shared/new']);
  assert.equal(ro.stdout, 'x\n');
  assert.notEqual(ro.code, 0);
  assert.match(ro.stderr, /Read-only file system/);
  // (the docker CLI takes any 404 from create for a missing image and tries a pull, so ask the API directly)
  const missing = await apiPost('/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { VolumesFrom: ['nosuchcontainer'] } });
  assert.equal(missing.status, 404);
  assert.match(missing.body, /No such container: nosuchcontainer/);
  await ok(['rm', '-v', 'vf1']);
  await ok(['volume', 'rm', 'shared1']);
});

test('binds: ro is read-only, a missing -v host dir is created, a missing --mount source is refused', async () => {
  writeFileSync(path.join(hostDir, 'f'), 'host\n');
  const ro = await docker(['run', '--rm', '-v', `${hostDir}:/b:ro`, 'busybox', 'sh', '-c', 'cat /b/f; touch /b/g']);
  assert.equal(ro.stdout, 'host\n');
  assert.notEqual(ro.code, 0);
  assert.match(ro.stderr, /Read-only file system/);
  assert.equal(existsSync(path.join(hostDir, 'g')), false);
  await ok(['run', '--rm', '--mount', `type=bind,src=${hostDir},dst=/b`, 'busybox', 'touch', '/b/g']);
  assert.equal(existsSync(path.join(hostDir, 'g')), true);

  const created = path.join(hostDir, 'made', 'here');
  await ok(['run', '--rm', '-v', `${created}:/m`, 'busybox', 'true']);
  assert.ok(statSync(created).isDirectory());

  const before = await volumeNames();
  const missing = await docker(['run', '--rm', '--mount', 'type=bind,src=/nonexistent-berth-src,dst=/x', 'busybox', 'true']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /invalid mount config for type "bind": bind source path does not exist: \/nonexistent-berth-src/);
  const badMode = await docker(['create', '-v', 'badmodevol:/x:bogus', 'busybox', 'true']);
  assert.notEqual(badMode.code, 0);
  assert.match(badMode.stderr, /invalid mode: bogus/);
  const relative = await docker(['create', '-v', 'relvol:rel', 'busybox', 'true']);
  assert.notEqual(relative.code, 0);
  assert.match(relative.stderr, /invalid volume specification: 'relvol:rel'/);
  const dup = await docker(['create', '-v', 'dupa:/x', '-v', 'dupb:/x', 'busybox', 'true']);
  assert.notEqual(dup.code, 0);
  assert.match(dup.stderr, /Duplicate mount point: \/x/);
  assert.deepEqual(await volumeNames(), before, 'a refused spec creates no volume');
  assert.equal((await ok(['ps', '-aq'])).trim(), '', 'and no container');
});

test('a tmpfs-backed volume is a tmpfs while used and unmounted after', async () => {
  await ok(['volume', 'create', '--driver', 'local', '--opt', 'type=tmpfs', '--opt', 'device=tmpfs', '--opt', 'o=size=10m', 'tv']);
  const opts = JSON.parse(await ok(['volume', 'inspect', '-f', '{{json .Options}}', 'tv'])) as Record<string, string>;
  assert.deepEqual(opts, { device: 'tmpfs', o: 'size=10m', type: 'tmpfs' });
  const out = await ok(['run', '--rm', '-v', 'tv:/t', 'busybox', 'sh', '-c', "grep ' /t ' /proc/mounts | cut -d' ' -f3; df -k /t | tail -1 | awk '{print $2}'"]);
  assert.equal(out, 'tmpfs\n10240\n');
  const data = path.join(dataRoot, 'volumes', 'tv', '_data');
  const mounted = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === data);
  assert.equal(mounted, false, 'unmounted once no container uses it');
  const bad = await docker(['volume', 'create', '--opt', 'bogus=1', 'badopts']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /invalid option: "bogus"/);
  await ok(['volume', 'rm', 'tv']);
});

test('volume prune: anonymous volumes by default, named ones with --all; labels filter', async () => {
  await ok(['volume', 'create', 'named-unused']);
  await ok(['volume', 'create', '--label', 'keep=1', 'named-kept']);
  await ok(['create', '--name', 'holder', '-v', 'named-used:/u', '-v', '/anonused', 'busybox', 'true']);
  await ok(['run', '--name', 'tmpanon', '-v', '/anon1', 'busybox', 'sh', '-c', 'head -c 3000 /dev/zero > /anon1/z']);
  const anon1 = (await mountsOf('tmpanon')).find((m) => m.Destination === '/anon1')!.Name!;
  await ok(['rm', 'tmpanon']);
  const pruned = await ok(['volume', 'prune', '-f']);
  assert.match(pruned, new RegExp(`Deleted Volumes:\\n${anon1}\\n`));
  assert.match(pruned, /Total reclaimed space: 3kB/);
  let names = await volumeNames();
  assert.ok(!names.includes(anon1));
  assert.ok(names.includes('named-unused'));
  await ok(['volume', 'prune', '-af', '--filter', 'label!=keep']);
  names = await volumeNames();
  assert.ok(!names.includes('named-unused'));
  assert.ok(names.includes('named-kept'));
  assert.ok(names.includes('named-used'), 'volumes in use are never pruned');
  await ok(['rm', '-v', 'holder']);
  await ok(['volume', 'rm', 'named-kept', 'named-used']);
});

test('system df matches what is on disk; system prune reclaims it', async () => {
  await ok(['volume', 'create', 'dfvol']);
  await ok(['run', '--name', 'dfc', '-v', 'dfvol:/v', 'busybox', 'sh', '-c', 'head -c 12345 /dev/zero > /v/a; head -c 777 /dev/zero > /root-file']);
  const df = await apiGet<{
    LayersSize: number;
    Images: Array<{ Id: string; Containers: number; SharedSize: number; Size: number }>;
    Containers: Array<{ Id: string; SizeRw: number; SizeRootFs: number }>;
    Volumes: Array<{ Name: string; Mountpoint: string; UsageData: { Size: number; RefCount: number } }>;
    BuildCache: unknown[];
  }>('/system/df');
  const vol = df.Volumes.find((v) => v.Name === 'dfvol')!;
  assert.equal(vol.UsageData.Size, 12345);
  assert.equal(vol.UsageData.Size, findSize(vol.Mountpoint));
  assert.equal(vol.UsageData.RefCount, 1);
  const id = (await ok(['inspect', '-f', '{{.Id}}', 'dfc'])).trim();
  const c = df.Containers.find((x) => x.Id === id)!;
  assert.equal(c.SizeRw, findSize(path.join(dataRoot, 'containers', id, 'upper')));
  assert.ok(c.SizeRw >= 777);
  const img = df.Images.find((i) => i.Containers > 0)!;
  assert.equal(img.Containers, 1);
  assert.equal(img.SharedSize, 0);
  assert.equal(df.LayersSize, img.Size);
  assert.deepEqual(df.BuildCache, []);

  const table = await ok(['system', 'df']);
  assert.match(table, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE\n/);
  assert.match(table, /Local Volumes\s+1\s+1\s+12\.35kB\s+0B \(0%\)/);
  const verbose = await ok(['system', 'df', '-v']);
  assert.match(verbose, /Local Volumes space usage:\n\nVOLUME NAME\s+LINKS\s+SIZE\ndfvol\s+1\s+12\.35kB\n/);

  // berth's own CLI prints the same summary.
  const berthDf = await runCli('berth', ['system', 'df'], daemon);
  assert.equal(berthDf.code, 0, berthDf.stderr);
  assert.equal(berthDf.stdout, table);
  const berthVerbose = await runCli('berth', ['system', 'df', '-v'], daemon);
  const section = (text: string): string => text.slice(text.indexOf('Local Volumes space usage:'));
  assert.equal(section(berthVerbose.stdout), section(verbose));
  const imageLine = (text: string): string => text.split('\n')[3].replace(/\d+ seconds? ago|Less than a second ago/, '');
  assert.equal(imageLine(berthVerbose.stdout), imageLine(verbose));

  await ok(['run', '-v', '/anon-pruned', 'busybox', 'true']);
  const prune = await runCli('berth', ['system', 'prune', '-f', '--volumes', '-a'], daemon);
  assert.equal(prune.code, 0, prune.stderr);
  assert.match(prune.stdout, new RegExp(`Deleted Containers:\n(.*\n)*${id}\n`));
  assert.match(prune.stdout, /Deleted Volumes:\n[0-9a-f]{64}\n\n/);
  assert.match(prune.stdout, /Deleted Images:\nuntagged: busybox:latest\n/);
  assert.match(prune.stdout, /Total reclaimed space: /);
  // Docker 28 prunes only anonymous volumes: the named one stays.
  assert.ok((await volumeNames()).includes('dfvol'));
  await ok(['volume', 'rm', 'dfvol']);
  // the image was unused, so -a removed it: put it back for the next tests
  await importBusybox(daemon);
});

test('berth volume prints what docker volume prints; volume events are published', async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  const berth = (args: string[]) => runCli('berth', args, daemon);
  const created = await berth(['volume', 'create', '--label', 'x=1', '-o', 'type=tmpfs', '-o', 'device=tmpfs', 'bv1']);
  assert.equal(created.code, 0, created.stderr);
  assert.equal(created.stdout, 'bv1\n');
  await ok(['volume', 'create', 'bv2']);
  for (const args of [['volume', 'ls'], ['volume', 'ls', '-q'], ['volume', 'ls', '--format', '{{json .}}'], ['volume', 'ls', '--filter', 'label=x'], ['volume', 'inspect', 'bv1', 'bv2']]) {
    const b = await berth(args);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stdout, await ok(args), `berth ${args.join(' ')}`);
  }
  const missing = await berth(['volume', 'rm', 'bv1', 'nosuchvol']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stdout, 'bv1\n');
  assert.match(missing.stderr, /get nosuchvol: no such volume/);
  await ok(['volume', 'rm', 'bv2']);
  const events = await ok(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'type=volume', '--format', '{{.Action}} {{.Actor.ID}}']);
  assert.match(events, /create bv1\ncreate bv2\ndestroy bv1\ndestroy bv2\n/);
});

test('volumes are listed after a daemon restart and still mount', async () => {
  await ok(['volume', 'create', 'survivor']);
  await ok(['run', '--rm', '-v', 'survivor:/s', 'busybox', 'sh', '-c', 'echo kept > /s/k']);
  await daemon.stop();
  mkdirSync(dataRoot, { recursive: true });
  daemon = await startDaemon({ dataRoot });
  assert.ok((await volumeNames()).includes('survivor'));
  assert.equal(await ok(['run', '--rm', '-v', 'survivor:/s', 'busybox', 'cat', '/s/k']), 'kept\n');
  await ok(['volume', 'rm', 'survivor']);
});

test('berth inspect finds volumes and networks as docker inspect does', async () => {
  await ok(['volume', 'create', 'insp-vol']);
  await ok(['network', 'create', 'insp-net']);
  try {
    const format = ['--format', '{{.Name}}', 'insp-vol', 'insp-net'];
    const viaDocker = await ok(['inspect', ...format]);
    const viaBerth = await runCli('berth', ['inspect', ...format], daemon);
    assert.equal(viaBerth.code, 0, viaBerth.stderr);
    assert.equal(viaBerth.stdout, viaDocker);
    assert.equal(viaBerth.stdout, 'insp-vol\ninsp-net\n');
    const typed = await runCli('berth', ['inspect', '--type', 'volume', '--format', '{{.Driver}}', 'insp-vol'], daemon);
    assert.equal(typed.stdout, 'local\n');
    const missing = await runCli('berth', ['inspect', 'insp-none'], daemon);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such object: insp-none/);
  } finally {
    await ok(['volume', 'rm', 'insp-vol']);
    await ok(['network', 'rm', 'insp-net']);
  }
});
