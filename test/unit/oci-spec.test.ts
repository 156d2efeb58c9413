import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BerthError } from '../../src/errors.js';
import {
  DEFAULT_CAPABILITIES,
  KERNEL_CAPABILITIES,
  capabilitiesFromMask,
  normalizeCapability,
  tweakCapabilities,
} from '../../src/runtime/capabilities.js';
import type { HostFacts } from '../../src/runtime/host-limits.js';
import { parseProcLimits } from '../../src/runtime/host-limits.js';
import {
  type ContainerSpecInput,
  DEFAULT_MASKED_PATHS,
  RLIM_INFINITY,
  generateSpec,
  specToJson,
} from '../../src/runtime/oci-spec.js';
import type { LinuxDevice, Mount, Spec } from '../../src/runtime/oci-types.js';

// This VM's bounding set: everything up to CAP_CHECKPOINT_RESTORE but CAP_SYS_RESOURCE.
const BOUNDING = KERNEL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE');

const fakeDevice = (path: string, major: number, minor: number): LinuxDevice => ({
  path,
  type: 'c',
  major,
  minor,
  fileMode: 0o666,
  uid: 0,
  gid: 0,
});

function fakeHost(over: Partial<HostFacts> = {}): HostFacts {
  return {
    boundingSet: [...BOUNDING],
    hasSysResource: false,
    rlimits: { nofile: { soft: 20000, hard: 20000 }, nproc: { soft: 96364, hard: 96364 }, core: { soft: 0, hard: Infinity } },
    oomScoreAdj: 0,
    cgroupVersion: 1,
    arch: 'amd64',
    kernel: '6.18.44',
    apparmorEnabled: false,
    sysctlExists: () => true,
    hostDevices: () => [fakeDevice('/dev/null', 1, 3), fakeDevice('/dev/kvm', 10, 232)],
    devicesFromPath: (host, ctr) => [fakeDevice(ctr, host === '/dev/fuse' ? 10 : 4, host === '/dev/fuse' ? 229 : 1)],
    ...over,
  };
}

function input(over: Partial<ContainerSpecInput> = {}): ContainerSpecInput {
  return {
    id: 'c1',
    rootfsPath: '/var/lib/berth/c1/rootfs',
    readonlyRootfs: false,
    args: ['sh', '-c', 'true'],
    env: ['PATH=/usr/bin:/bin'],
    cwd: '',
    user: { uid: 0, gid: 0, additionalGids: [0, 10], home: '/root' },
    terminal: false,
    hostname: 'c1host',
    privileged: false,
    capAdd: [],
    capDrop: [],
    noNewPrivileges: false,
    seccomp: 'default',
    mounts: [],
    shmSize: 64 * 1024 * 1024,
    namespaces: { network: { mode: 'private' }, pid: 'private', ipc: 'private', uts: 'private', cgroup: 'host' },
    resources: {},
    cgroupsPath: '/berth/c1',
    devices: [],
    sysctls: {},
    ulimits: [],
    ...over,
  };
}

const mount = (spec: Spec, dest: string): Mount | undefined => spec.mounts?.find((m) => m.destination === dest);

function rejects(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof BerthError && err.code === 'invalid_argument' && re.test(err.message));
}

describe('capabilities', () => {
  it('normalizes names in any case, with or without the CAP_ prefix', () => {
    assert.equal(normalizeCapability('net_admin'), 'CAP_NET_ADMIN');
    assert.equal(normalizeCapability('NET_ADMIN'), 'CAP_NET_ADMIN');
    assert.equal(normalizeCapability('CAP_NET_ADMIN'), 'CAP_NET_ADMIN');
    assert.equal(normalizeCapability('all'), 'ALL');
    rejects(() => normalizeCapability('foo'), /unknown capability: "CAP_FOO"/);
  });

  it("names a CapBnd mask's bits", () => {
    assert.deepEqual(capabilitiesFromMask('000001fffeffffff'), BOUNDING);
    assert.deepEqual(capabilitiesFromMask('0000000000000003'), ['CAP_CHOWN', 'CAP_DAC_OVERRIDE']);
  });

  it('adds and drops like Docker, ALL included', () => {
    const base = [...DEFAULT_CAPABILITIES];
    assert.deepEqual(tweakCapabilities(base, [], [], BOUNDING), base);
    const t = tweakCapabilities(base, ['net_admin'], ['chown', 'CAP_KILL'], BOUNDING);
    assert.ok(t.includes('CAP_NET_ADMIN'));
    assert.ok(!t.includes('CAP_CHOWN') && !t.includes('CAP_KILL'));
    assert.equal(t.length, base.length - 1);
    assert.deepEqual(tweakCapabilities(base, ['NET_ADMIN'], ['ALL'], BOUNDING), ['CAP_NET_ADMIN']);
    const all = tweakCapabilities(base, ['ALL'], ['sys_admin'], BOUNDING);
    assert.equal(all.length, BOUNDING.length - 1);
    assert.ok(!all.includes('CAP_SYS_ADMIN') && !all.includes('CAP_SYS_RESOURCE'));
  });

  it('refuses capabilities outside the daemon bounding set', () => {
    rejects(() => tweakCapabilities([...DEFAULT_CAPABILITIES], ['SYS_RESOURCE'], [], BOUNDING), /not available/);
  });
});

describe('generateSpec defaults', () => {
  const spec = generateSpec(input(), fakeHost());

  it("grants Docker's 14 capabilities, without inheritable or ambient ones", () => {
    const caps = spec.process?.capabilities;
    assert.equal(DEFAULT_CAPABILITIES.length, 14);
    assert.deepEqual(caps?.bounding, DEFAULT_CAPABILITIES);
    assert.deepEqual(caps?.effective, DEFAULT_CAPABILITIES);
    assert.deepEqual(caps?.permitted, DEFAULT_CAPABILITIES);
    assert.equal(caps?.inheritable, undefined);
    assert.equal(caps?.ambient, undefined);
  });

  it("has Docker's mounts in Docker's order", () => {
    assert.deepEqual(
      spec.mounts?.map((m) => m.destination),
      ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm'],
    );
    assert.deepEqual(mount(spec, '/dev')?.options, ['nosuid', 'strictatime', 'mode=755', 'size=65536k']);
    assert.deepEqual(mount(spec, '/dev/pts')?.options, [
      'nosuid',
      'noexec',
      'newinstance',
      'ptmxmode=0666',
      'mode=0620',
      'gid=5',
    ]);
    assert.ok(mount(spec, '/sys')?.options?.includes('ro'));
    assert.equal(mount(spec, '/sys/fs/cgroup')?.type, 'cgroup');
    assert.ok(mount(spec, '/sys/fs/cgroup')?.options?.includes('ro'));
    assert.deepEqual(mount(spec, '/dev/shm')?.options, ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864']);
  });

  it('masks and write-protects the usual paths', () => {
    for (const p of ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
      '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap']) {
      assert.ok(spec.linux?.maskedPaths?.includes(p), p);
    }
    assert.deepEqual(spec.linux?.readonlyPaths, ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
  });

  it('denies all devices but the standard ones, allowing mknod', () => {
    const rules = spec.linux?.resources?.devices ?? [];
    assert.deepEqual(rules[0], { allow: false, access: 'rwm' });
    const allowed = (type: string, major?: number, minor?: number): boolean =>
      rules.some((r) => r.allow && r.type === type && r.major === major && r.minor === minor);
    assert.ok(allowed('c') && allowed('b'), 'mknod of any node');
    assert.equal(rules.find((r) => r.type === 'b')?.access, 'm');
    for (const [maj, min] of [[1, 3], [1, 5], [1, 7], [1, 8], [1, 9], [5, 0], [5, 2]] as const) assert.ok(allowed('c', maj, min), `${maj}:${min}`);
    assert.ok(allowed('c', 136, undefined), 'pts');
    // runc (cgroup v1) cannot apply a deny rule after the `c *:* m` wildcard allow.
    assert.deepEqual(rules.slice(1).filter((r) => !r.allow), []);
    assert.deepEqual(spec.linux?.devices, []);
  });

  it('uses private namespaces, cgroupsPath, hostname, process fields', () => {
    assert.deepEqual(spec.linux?.namespaces?.map((n) => n.type), ['mount', 'network', 'uts', 'pid', 'ipc']);
    assert.equal(spec.linux?.cgroupsPath, '/berth/c1');
    assert.equal(spec.hostname, 'c1host');
    assert.equal(spec.process?.cwd, '/');
    assert.deepEqual(spec.process?.user, { uid: 0, gid: 0, additionalGids: [0, 10] });
    assert.ok(spec.process?.env?.includes('HOME=/root'));
    assert.equal(spec.process?.rlimits, undefined, 'no rlimits unless asked: the daemon limits are inherited');
    assert.equal(spec.root?.path, '/var/lib/berth/c1/rootfs');
    assert.deepEqual(spec.linux?.sysctl, { 'net.ipv4.ping_group_range': '0 2147483647', 'net.ipv4.ip_unprivileged_port_start': '0' });
    assert.equal(spec.linux?.seccomp?.defaultAction, 'SCMP_ACT_ERRNO');
  });

  it('serializes to JSON', () => {
    const back = JSON.parse(specToJson(spec)) as Spec;
    assert.deepEqual(back.linux?.maskedPaths, [...DEFAULT_MASKED_PATHS]);
  });
});

describe('generateSpec options', () => {
  it('privileged: the daemon bounding set, all devices, no masks, no seccomp, rw /sys', () => {
    const host = fakeHost({ boundingSet: ['CAP_CHOWN', 'CAP_SYS_ADMIN', 'CAP_NET_ADMIN'] });
    const spec = generateSpec(input({ privileged: true }), host);
    assert.deepEqual(spec.process?.capabilities?.bounding, ['CAP_CHOWN', 'CAP_SYS_ADMIN', 'CAP_NET_ADMIN']);
    assert.deepEqual(spec.process?.capabilities?.effective, ['CAP_CHOWN', 'CAP_SYS_ADMIN', 'CAP_NET_ADMIN']);
    assert.equal(spec.linux?.maskedPaths, undefined);
    assert.equal(spec.linux?.readonlyPaths, undefined);
    assert.equal(spec.linux?.seccomp, undefined);
    assert.ok(!mount(spec, '/sys')?.options?.includes('ro'));
    assert.ok(!mount(spec, '/sys/fs/cgroup')?.options?.includes('ro'));
    assert.deepEqual(spec.linux?.resources?.devices, [{ allow: true, access: 'rwm' }]);
    assert.deepEqual(spec.linux?.devices?.map((d) => d.path), ['/dev/null', '/dev/kvm']);
  });

  it('cap add/drop reach the spec and the seccomp filter', () => {
    const spec = generateSpec(input({ capAdd: ['SYS_ADMIN'], capDrop: ['NET_RAW'] }), fakeHost());
    const caps = spec.process?.capabilities?.bounding ?? [];
    assert.ok(caps.includes('CAP_SYS_ADMIN') && !caps.includes('CAP_NET_RAW'));
    const names = (spec.linux?.seccomp?.syscalls ?? []).flatMap((s) => (s.action === 'SCMP_ACT_ALLOW' ? s.names : []));
    assert.ok(names.includes('mount'), 'CAP_SYS_ADMIN allows mount');
  });

  it('--ulimit: mapped, and refused above the daemon hard limit', () => {
    const spec = generateSpec(input({ ulimits: [{ name: 'nofile', soft: 1024, hard: 4096 }] }), fakeHost());
    assert.deepEqual(spec.process?.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 }]);
    rejects(() => generateSpec(input({ ulimits: [{ name: 'nofile', soft: 1024, hard: 65536 }] }), fakeHost()), /hard limit 20000/);
    rejects(() => generateSpec(input({ ulimits: [{ name: 'nofile', soft: 10, hard: 5 }] }), fakeHost()), /soft limit/);
    rejects(() => generateSpec(input({ ulimits: [{ name: 'bogus', soft: 1, hard: 1 }] }), fakeHost()), /invalid ulimit type/);
    // With CAP_SYS_RESOURCE the daemon may raise it.
    const raised = generateSpec(input({ ulimits: [{ name: 'nofile', soft: 1024, hard: 65536 }] }), fakeHost({ hasSysResource: true }));
    assert.equal(raised.process?.rlimits?.[0]?.hard, 65536);
    const core = generateSpec(input({ ulimits: [{ name: 'core', soft: -1, hard: -1 }] }), fakeHost());
    assert.equal(core.process?.rlimits?.[0]?.hard, RLIM_INFINITY);
    assert.match(specToJson(core), /"hard": 18446744073709551615/);
  });

  it('maps resources like Docker', () => {
    const spec = generateSpec(
      input({
        resources: {
          memory: 64 * 1024 * 1024,
          memorySwap: 128 * 1024 * 1024,
          memoryReservation: 32 * 1024 * 1024,
          nanoCpus: 1_500_000_000,
          cpuShares: 512,
          cpusetCpus: '0',
          pidsLimit: 64,
          blkioWeight: 300,
          oomKillDisable: true,
        },
      }),
      fakeHost(),
    );
    const r = spec.linux?.resources;
    assert.deepEqual(r?.memory, { limit: 67108864, reservation: 33554432, swap: 134217728, disableOOMKiller: true });
    assert.deepEqual(r?.cpu, { shares: 512, cpus: '0', period: 100000, quota: 150000 });
    assert.deepEqual(r?.pids, { limit: 64 });
    assert.deepEqual(r?.blockIO, { weight: 300 });
    const v2 = generateSpec(input({ resources: { memory: 64 << 20, oomKillDisable: true, pidsLimit: 0 } }), fakeHost({ cgroupVersion: 2 }));
    assert.deepEqual(v2.linux?.resources?.memory, { limit: 67108864 });
    assert.deepEqual(v2.linux?.resources?.pids, { limit: -1 });
    const q = generateSpec(input({ resources: { cpuQuota: 50000, cpuPeriod: 100000 } }), fakeHost());
    assert.deepEqual(q.linux?.resources?.cpu, { period: 100000, quota: 50000 });
  });

  it("refuses resources Docker refuses", () => {
    rejects(() => generateSpec(input({ resources: { memory: 1024 } }), fakeHost()), /Minimum memory limit allowed is 6MB/);
    rejects(() => generateSpec(input({ resources: { memory: 64 << 20, memorySwap: 32 << 20 } }), fakeHost()), /memoryswap/);
    rejects(() => generateSpec(input({ resources: { nanoCpus: 1e9, cpuQuota: 1000 } }), fakeHost()), /Nano CPUs and CPU Quota/);
  });

  it('accepts only namespaced sysctls', () => {
    const spec = generateSpec(input({ sysctls: { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '1000', 'fs.mqueue.msg_max': '20', 'kernel.sem': '1 2 3 4' } }), fakeHost());
    assert.equal(spec.linux?.sysctl?.['net.ipv4.ip_forward'], '1');
    assert.equal(spec.linux?.sysctl?.['kernel.shmmax'], '1000');
    rejects(() => generateSpec(input({ sysctls: { 'kernel.panic': '1' } }), fakeHost()), /not whitelisted/);
    rejects(() => generateSpec(input({ sysctls: { 'vm.swappiness': '1' } }), fakeHost()), /not whitelisted/);
    const hostNet = { network: { mode: 'host' as const }, pid: 'private' as const, ipc: 'private' as const, uts: 'private' as const, cgroup: 'host' as const };
    rejects(() => generateSpec(input({ namespaces: hostNet, sysctls: { 'net.ipv4.ip_forward': '1' } }), fakeHost()), /host network/);
    const hostIpc = { ...hostNet, network: { mode: 'private' as const }, ipc: 'host' as const };
    rejects(() => generateSpec(input({ namespaces: hostIpc, sysctls: { 'kernel.shmmax': '1' } }), fakeHost()), /host IPC/);
  });

  it('host namespaces are left out; host network gets no net sysctls; a joined netns has its path', () => {
    const spec = generateSpec(
      input({ namespaces: { network: { mode: 'host' }, pid: 'host', ipc: 'host', uts: 'host', cgroup: 'private' } }),
      fakeHost(),
    );
    assert.deepEqual(spec.linux?.namespaces?.map((n) => n.type), ['mount', 'cgroup']);
    assert.equal(spec.hostname, undefined);
    assert.deepEqual(spec.linux?.sysctl, {});
    assert.equal(mount(spec, '/dev/shm')?.type, 'bind');
    const joined = generateSpec(
      input({ namespaces: { network: { mode: 'path', path: '/run/netns/x' }, pid: 'private', ipc: 'private', uts: 'private', cgroup: 'host' } }),
      fakeHost(),
    );
    assert.deepEqual(joined.linux?.namespaces?.[1], { type: 'network', path: '/run/netns/x' });
  });

  it('user mounts override defaults and come parents first; read-only rootfs makes the others ro', () => {
    const spec = generateSpec(
      input({
        readonlyRootfs: true,
        mounts: [
          { destination: '/data/sub', type: 'bind', source: '/h/sub', options: ['rbind'] },
          { destination: '/data', type: 'bind', source: '/h/data', options: ['rbind', 'ro'] },
          { destination: '/dev/shm', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
          { destination: '/etc/hosts', type: 'bind', source: '/h/hosts', options: ['rbind'] },
        ],
      }),
      fakeHost(),
    );
    const dests = spec.mounts?.map((m) => m.destination) ?? [];
    assert.equal(dests.filter((d) => d === '/dev/shm').length, 1);
    assert.ok(dests.indexOf('/data') < dests.indexOf('/data/sub'));
    assert.deepEqual(mount(spec, '/dev/shm')?.options, ['size=1m']);
    assert.ok(mount(spec, '/sys/fs/cgroup')?.options?.includes('ro'));
    assert.ok(!mount(spec, '/proc')?.options?.includes('ro'));
    assert.ok(!mount(spec, '/dev/mqueue')?.options?.includes('ro'));
    assert.deepEqual(mount(spec, '/etc/hosts')?.options, ['rbind'], 'user mounts keep their own options');
    assert.equal(spec.root?.readonly, true);
  });

  it('--init mounts docker-init and puts it before the command', () => {
    const spec = generateSpec(input({ init: { hostPath: '/usr/bin/tini' } }), fakeHost());
    assert.deepEqual(spec.process?.args, ['/sbin/docker-init', '--', 'sh', '-c', 'true']);
    assert.deepEqual(mount(spec, '/sbin/docker-init'), { destination: '/sbin/docker-init', type: 'bind', source: '/usr/bin/tini', options: ['bind', 'ro'] });
  });

  it('--device adds the node and its cgroup rule', () => {
    const spec = generateSpec(input({ devices: [{ pathOnHost: '/dev/tty1', pathInContainer: '/dev/xtty', permissions: 'rw' }] }), fakeHost());
    assert.equal(spec.linux?.devices?.[0]?.path, '/dev/xtty');
    assert.deepEqual(spec.linux?.resources?.devices?.at(-1), { allow: true, type: 'c', major: 4, minor: 1, access: 'rw' });
    rejects(() => generateSpec(input({ devices: [{ pathOnHost: '/dev/tty1', pathInContainer: '/dev/tty1', permissions: 'rx' }] }), fakeHost()), /invalid device mode/);
  });

  it('seccomp unconfined or a custom profile', () => {
    assert.equal(generateSpec(input({ seccomp: 'unconfined' }), fakeHost()).linux?.seccomp, undefined);
    const custom = generateSpec(
      input({ seccomp: { profile: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] } } }),
      fakeHost(),
    );
    assert.deepEqual(custom.linux?.seccomp, { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] });
    rejects(() => generateSpec(input({ seccomp: { profile: [1] } }), fakeHost()), /seccomp profile/);
  });

  it('oom score adj: range and CAP_SYS_RESOURCE', () => {
    assert.equal(generateSpec(input({ oomScoreAdj: 500 }), fakeHost()).process?.oomScoreAdj, 500);
    rejects(() => generateSpec(input({ oomScoreAdj: 1001 }), fakeHost()), /range for oom score adj/);
    rejects(() => generateSpec(input({ oomScoreAdj: -500 }), fakeHost()), /CAP_SYS_RESOURCE/);
  });
});

describe('host limits', () => {
  it('parses /proc/self/limits', () => {
    const t = parseProcLimits(
      [
        'Limit                     Soft Limit           Hard Limit           Units     ',
        'Max core file size        0                    unlimited            bytes     ',
        'Max processes             96364                96364                processes ',
        'Max open files            1024                 20000                files     ',
        'Max nice priority         0                    0                    ',
      ].join('\n'),
    );
    assert.deepEqual(t.nofile, { soft: 1024, hard: 20000 });
    assert.deepEqual(t.core, { soft: 0, hard: Infinity });
    assert.deepEqual(t.nice, { soft: 0, hard: 0 });
    assert.deepEqual(t.nproc, { soft: 96364, hard: 96364 });
  });
});

describe('host facts of this machine', () => {
  it('reads the bounding set, rlimits and cgroup version', async () => {
    const { boundingSetOf } = await import('../../src/runtime/capabilities.js');
    const { cgroupVersion, daemonRlimits } = await import('../../src/runtime/host-limits.js');
    const bounding = boundingSetOf('self');
    assert.ok(bounding.every((c) => KERNEL_CAPABILITIES.includes(c)));
    assert.ok(bounding.length > 0);
    const { nofile, nproc } = daemonRlimits();
    assert.ok(nofile.soft <= nofile.hard && nofile.hard > 0);
    assert.ok(nproc.soft <= nproc.hard && nproc.hard > 0);
    assert.ok([1, 2].includes(cgroupVersion()));
  });
});
