/**
 * A busybox image made offline from Debian's busybox-static, laid out like the Docker Hub busybox
 * image (/bin with the applet links, /dev, /etc, /home, /lib, /root, /tmp, /usr, /var).
 */
import { execFile, spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  type BuiltImage,
  type BuiltLayer,
  type Compression,
  type ImageConfigLike,
  type ImageFormat,
  type LayerSpec,
  assembleImage,
  buildLayer,
} from './oci-build.js';
import { runCli, type TestDaemon } from './berthd.js';

const run = promisify(execFile);

export const BUSYBOX_BINARY = '/bin/busybox';

export const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/bin/false',
  'bin:x:2:2:bin:/bin:/bin/false',
  'sys:x:3:3:sys:/dev:/bin/false',
  'sync:x:4:100:sync:/bin:/bin/sync',
  'mail:x:8:8:mail:/var/spool/mail:/bin/false',
  'www-data:x:33:33:www-data:/var/www:/bin/false',
  'operator:x:37:37:Operator:/var:/bin/false',
  'nobody:x:65534:65534:nobody:/home:/bin/false',
  '',
].join('\n');

export const GROUP = [
  'root:x:0:',
  'daemon:x:1:',
  'bin:x:2:',
  'sys:x:3:',
  'adm:x:4:',
  'tty:x:5:',
  'disk:x:6:',
  'wheel:x:10:root',
  'mail:x:12:',
  'www-data:x:33:',
  'operator:x:37:',
  'users:x:100:',
  'nogroup:x:65534:',
  '',
].join('\n');

/** The applet names busybox reports (`busybox --list`), sorted. */
export async function busyboxApplets(binary = BUSYBOX_BINARY): Promise<string[]> {
  const { stdout } = await run(binary, ['--list']);
  return stdout
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'busybox' && !s.includes('/'))
    .sort();
}

/** Writes a busybox rootfs into `dir` (which must exist and be empty). */
export async function writeBusyboxRootfs(dir: string): Promise<void> {
  for (const d of ['bin', 'dev', 'etc', 'home', 'lib', 'root', 'tmp', 'usr', 'usr/bin', 'usr/sbin', 'var', 'var/spool', 'var/spool/mail', 'var/www']) {
    await mkdir(join(dir, d), { recursive: true });
    await chmod(join(dir, d), 0o755);
  }
  await chmod(join(dir, 'root'), 0o700);
  await chmod(join(dir, 'tmp'), 0o1777);
  await copyFile(BUSYBOX_BINARY, join(dir, 'bin/busybox'));
  await chmod(join(dir, 'bin/busybox'), 0o755);
  for (const applet of await busyboxApplets()) await symlink('busybox', join(dir, 'bin', applet));
  await writeFile(join(dir, 'etc/passwd'), PASSWD, { mode: 0o644 });
  await writeFile(join(dir, 'etc/group'), GROUP, { mode: 0o644 });
  await chmod(join(dir, 'etc/passwd'), 0o644);
  await chmod(join(dir, 'etc/group'), 0o644);
}

let rootfsPromise: Promise<string> | undefined;

/**
 * The busybox rootfs directory, written once per process into a temp dir that is removed when
 * the process exits.
 */
export function busyboxRootfs(): Promise<string> {
  rootfsPromise ??= (async () => {
    const base = await mkdtemp(join(tmpdir(), 'berth-busybox-'));
    process.once('exit', () => rmSync(base, { recursive: true, force: true }));
    const dir = join(base, 'rootfs');
    await mkdir(dir);
    await writeBusyboxRootfs(dir);
    return dir;
  })();
  return rootfsPromise;
}

export const BUSYBOX_CONFIG: Partial<ImageConfigLike> = {
  config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
  history: [{ created: '2024-01-01T00:00:00Z', created_by: '/bin/sh -c #(nop) ADD file:busybox-static in / ' }],
};

const baseLayerCache = new Map<string, Promise<BuiltLayer>>();
const imageCache = new Map<string, Promise<BuiltImage>>();

function busyboxLayer(compression: Compression, format: ImageFormat): Promise<BuiltLayer> {
  const key = `${compression}/${format}`;
  let p = baseLayerCache.get(key);
  if (!p) {
    p = busyboxRootfs().then((dir) => buildLayer(dir, compression, format));
    baseLayerCache.set(key, p);
  }
  return p;
}

/**
 * The busybox image (one layer; `extraLayers` go on top). The busybox layer is built once per
 * process per compression/format; builds are deterministic, so the same specs give the same digests.
 */
export async function buildBusyboxImage(
  opts: { compression?: Compression; format?: ImageFormat; extraLayers?: LayerSpec[] } = {},
): Promise<BuiltImage> {
  const compression = opts.compression ?? 'gzip';
  const format = opts.format ?? 'docker';
  const extra = opts.extraLayers ?? [];
  const build = async (): Promise<BuiltImage> => {
    const layers = [await busyboxLayer(compression, format)];
    for (const spec of extra) layers.push(await buildLayer(spec, compression, format));
    const history = [
      ...(BUSYBOX_CONFIG.history ?? []),
      ...extra.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `/bin/sh -c #(nop) extra layer ${i}` })),
    ];
    return assembleImage(layers, { config: { ...BUSYBOX_CONFIG, history }, format });
  };
  if (extra.length > 0) return build();
  const key = `${compression}/${format}`;
  let p = imageCache.get(key);
  if (!p) {
    p = build();
    imageCache.set(key, p);
  }
  return p;
}

/** Imports the busybox rootfs as busybox:latest (CMD sh) into a test daemon: the image most tests run. */
export async function importBusybox(daemon: Pick<TestDaemon, 'env'>): Promise<void> {
  const tar = spawnSync('tar', ['-C', await busyboxRootfs(), '-c', '.'], { maxBuffer: 64 << 20 });
  const imported = await runCli('docker', ['import', '-c', 'CMD ["sh"]', '-', 'busybox:latest'], daemon, { input: tar.stdout });
  assert.equal(imported.code, 0, imported.stderr);
}
