/**
 * Generated specs run by the real crun on a busybox rootfs (an overlay over the shared fixture, so it
 * stays untouched), checked from inside the container.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { DEFAULT_CAPABILITIES, KERNEL_CAPABILITIES } from '../../src/runtime/capabilities.js';
import { type ContainerSpecInput, generateSpec, specToJson } from '../../src/runtime/oci-spec.js';
import { resolveUser } from '../../src/runtime/user.js';
import { busyboxRootfs } from '../support/busybox-image.js';

const run = promisify(execFile);
const CRUN = '/usr/bin/crun';
const CGROUP_ROOT = '/sys/fs/cgroup';
// The busybox rootfs has no libc, so --init needs a static init.
const TINI = '/usr/bin/tini-static';

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync(CRUN)) return 'crun is not installed';
  const hybrid = join(CGROUP_ROOT, 'unified', 'cgroup.controllers');
  // crun refuses hybrid mode while cgroup2 holds a controller (hugetlb here; scripts/install-deps.sh moves it).
  if (existsSync(hybrid) && readFileSync(hybrid, 'utf8').trim() !== '') return 'cgroup2 still holds controllers (run scripts/install-deps.sh)';
  return undefined;
}

const skip = skipReason();

let base: string;
let crunRoot: string;
const cgroupParent = `berth-test-${process.pid}`;
const mounted: string[] = [];
let seq = 0;

/** Our cgroup parent in every hierarchy (v1 controllers, name=systemd, the unified one), deepest first. */
function removeCgroups(): void {
  for (const hierarchy of readdirSync(CGROUP_ROOT)) {
    const parent = join(CGROUP_ROOT, hierarchy, cgroupParent);
    if (!existsSync(parent)) continue;
    for (const child of readdirSync(parent, { withFileTypes: true })) {
      if (child.isDirectory()) rmdirSync(join(parent, child.name));
    }
    rmdirSync(parent);
  }
}

async function bundle(): Promise<{ dir: string; rootfs: string; id: string }> {
  const id = `berth-test-${process.pid}-${++seq}`;
  const dir = join(base, id);
  const rootfs = join(dir, 'rootfs');
  for (const d of ['upper', 'work', 'rootfs']) await mkdir(join(dir, d), { recursive: true });
  const lower = await busyboxRootfs();
  await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${dir}/upper,workdir=${dir}/work`, rootfs]);
  mounted.push(rootfs);
  return { dir, rootfs, id };
}

function specInput(b: { rootfs: string; id: string }, over: Partial<ContainerSpecInput>): ContainerSpecInput {
  return {
    id: b.id,
    rootfsPath: b.rootfs,
    readonlyRootfs: false,
    args: ['true'],
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    cwd: '/',
    user: { uid: 0, gid: 0, additionalGids: [0], home: '/root' },
    terminal: false,
    hostname: 'berthbox',
    privileged: false,
    capAdd: [],
    capDrop: [],
    noNewPrivileges: false,
    seccomp: 'default',
    mounts: [],
    shmSize: 64 * 1024 * 1024,
    namespaces: { network: { mode: 'private' }, pid: 'private', ipc: 'private', uts: 'private', cgroup: 'host' },
    resources: {},
    cgroupsPath: `/${cgroupParent}/${b.id}`,
    devices: [],
    sysctls: {},
    ulimits: [],
    ...over,
  };
}

/** Runs the container to completion; its stdout. */
async function crunRun(b: { dir: string; id: string }, input: ContainerSpecInput): Promise<string> {
  await writeFile(join(b.dir, 'config.json'), specToJson(generateSpec(input)));
  try {
    const { stdout } = await run(CRUN, ['--root', crunRoot, 'run', '--bundle', b.dir, b.id], { timeout: 30_000 });
    return stdout;
  } finally {
    await run(CRUN, ['--root', crunRoot, 'delete', '-f', b.id]).catch(() => undefined);
  }
}

function capMask(names: readonly string[]): string {
  let mask = 0n;
  for (const n of names) mask |= 1n << BigInt(KERNEL_CAPABILITIES.indexOf(n));
  return mask.toString(16).padStart(16, '0');
}

function field(out: string, name: string): string | undefined {
  return new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(out)?.[1]?.trim();
}

describe('generated specs under crun', { skip }, () => {
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'berth-ocispec-'));
    crunRoot = join(base, 'crun');
    await mkdir(crunRoot);
  });

  after(async () => {
    for (const m of mounted.reverse()) await run('umount', [m]).catch(() => undefined);
    removeCgroups();
    await rm(base, { recursive: true, force: true });
  });

  it("root: Docker's capabilities, seccomp, masked paths, hostname, memory limit", async () => {
    const b = await bundle();
    const script = [
      'grep -E "^(Cap|Seccomp|NoNewPrivs)" /proc/self/status',
      'echo "timer_list: $(wc -c < /proc/timer_list)"',
      'echo "firmware: $(ls /sys/firmware | wc -l)"',
      'echo "hostname: $(hostname)"',
      'echo "memlimit: $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"',
      'echo "pidsmax: $(cat /sys/fs/cgroup/pids/pids.max)"',
      'echo "nofile: $(ulimit -n)"',
      'echo "id: $(id -u) $(id -G)"',
      'echo "sysrw: $(touch /sys/x 2>/dev/null && echo yes || echo no)"',
      'echo "userns: $(unshare -U true 2>/dev/null && echo yes || echo no)"',
      'echo "shm: $(df -k /dev/shm | tail -1 | awk "{print \\$2}")"',
    ].join('; ');
    const user = await resolveUser(b.rootfs, '', []);
    const out = await crunRun(
      b,
      specInput(b, {
        args: ['sh', '-c', script],
        user,
        resources: { memory: 64 * 1024 * 1024, pidsLimit: 100 },
        ulimits: [{ name: 'nofile', soft: 1024, hard: 4096 }],
      }),
    );
    const want = capMask(DEFAULT_CAPABILITIES);
    assert.equal(want, '00000000a80425fb', "Docker's well-known default mask");
    assert.equal(field(out, 'CapBnd'), want);
    assert.equal(field(out, 'CapEff'), want);
    assert.equal(field(out, 'CapPrm'), want);
    assert.equal(field(out, 'CapInh'), '0000000000000000');
    assert.equal(field(out, 'Seccomp'), '2', 'a seccomp filter is active');
    assert.equal(field(out, 'timer_list'), '0', '/proc/timer_list is masked (a file)');
    assert.equal(field(out, 'firmware'), '0', '/sys/firmware is masked (a directory)');
    assert.equal(field(out, 'hostname'), 'berthbox');
    assert.equal(field(out, 'memlimit'), String(64 * 1024 * 1024));
    assert.equal(field(out, 'pidsmax'), '100');
    assert.equal(field(out, 'nofile'), '1024');
    assert.equal(field(out, 'id'), '0 0 10', 'root with its supplementary group wheel');
    assert.equal(field(out, 'sysrw'), 'no');
    assert.equal(field(out, 'shm'), '65536');
    assert.equal(field(out, 'userns'), 'no', 'seccomp refuses unshare without CAP_SYS_ADMIN');
  });

  it('--user www-data: ids and no effective capabilities', async () => {
    const b = await bundle();
    const user = await resolveUser(b.rootfs, 'www-data', ['mail', '4242']);
    const out = await crunRun(
      b,
      specInput(b, { args: ['sh', '-c', 'echo "uid: $(id -u)"; echo "groups: $(id -G)"; echo "home: $HOME"; grep ^CapEff /proc/self/status'], user }),
    );
    assert.equal(field(out, 'uid'), '33');
    assert.equal(field(out, 'groups'), '33 12 4242');
    assert.equal(field(out, 'home'), '/var/www');
    assert.equal(field(out, 'CapEff'), '0000000000000000');
  });

  it('--cap-add / --cap-drop reach the process', async () => {
    const b = await bundle();
    const out = await crunRun(
      b,
      specInput(b, { args: ['grep', '^CapEff', '/proc/self/status'], capAdd: ['NET_ADMIN'], capDrop: ['CHOWN'] }),
    );
    const caps = [...DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_CHOWN'), 'CAP_NET_ADMIN'];
    assert.equal(field(out, 'CapEff'), capMask(caps));
  });

  it('seccomp unconfined lets unshare through', async () => {
    const b = await bundle();
    const script = 'echo "userns: $(unshare -U true 2>/dev/null && echo yes || echo no)"; grep ^Seccomp: /proc/self/status';
    const out = await crunRun(b, specInput(b, { args: ['sh', '-c', script], seccomp: 'unconfined' }));
    assert.equal(field(out, 'Seccomp'), '0');
    assert.equal(field(out, 'userns'), 'yes');
  });

  it('read-only rootfs with a tmpfs mount, and --init as PID 1', { skip: !existsSync(TINI) && `${TINI} is missing` }, async () => {
    const b = await bundle();
    const script = [
      'echo "root: $(touch /x 2>/dev/null && echo rw || echo ro)"',
      'echo "scratch: $(touch /scratch/x 2>/dev/null && echo rw || echo ro)"',
      'echo "shm: $(touch /dev/shm/x 2>/dev/null && echo rw || echo ro)"',
      'echo "pid1: $(tr "\\0" " " < /proc/1/cmdline)"',
    ].join('; ');
    const out = await crunRun(
      b,
      specInput(b, {
        args: ['sh', '-c', script],
        readonlyRootfs: true,
        mounts: [{ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'size=1m'] }],
        init: { hostPath: TINI },
      }),
    );
    assert.equal(field(out, 'root'), 'ro');
    assert.equal(field(out, 'scratch'), 'rw');
    assert.equal(field(out, 'shm'), 'rw');
    assert.match(field(out, 'pid1') ?? '', /^\/sbin\/docker-init -- sh -c /);
  });

  it("--privileged: the daemon's bounding set, no masks, no seccomp", async () => {
    const b = await bundle();
    const out = await crunRun(
      b,
      specInput(b, {
        privileged: true,
        args: ['sh', '-c', 'grep -E "^(CapEff|Seccomp)" /proc/self/status; echo "firmware: $(ls /sys/firmware | wc -l)"'],
      }),
    );
    const self = field(readFileSync('/proc/self/status', 'utf8'), 'CapBnd');
    assert.equal(field(out, 'CapEff'), self);
    assert.equal(field(out, 'Seccomp'), '0');
    assert.notEqual(field(out, 'firmware'), '0', '/sys/firmware is visible');
  });
});
