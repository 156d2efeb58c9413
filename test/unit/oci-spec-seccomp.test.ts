import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_CAPABILITIES } from '../../src/runtime/capabilities.js';
import type { LinuxSeccomp } from '../../src/runtime/oci-types.js';
import {
  DEFAULT_SECCOMP_PROFILE,
  compareKernelVersions,
  defaultSeccompProfile,
  seccompForCapabilities,
} from '../../src/runtime/seccomp-default.js';

const allowedUnconditionally = (p: LinuxSeccomp): Set<string> =>
  new Set((p.syscalls ?? []).filter((s) => s.action === 'SCMP_ACT_ALLOW' && !s.args).flatMap((s) => s.names));
const rulesFor = (p: LinuxSeccomp, name: string) => (p.syscalls ?? []).filter((s) => s.names.includes(name));

describe('default seccomp profile', () => {
  const amd64 = defaultSeccompProfile('amd64', DEFAULT_CAPABILITIES, '6.18.44');

  it('denies by default with EPERM, on the x86 family', () => {
    assert.equal(amd64.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(amd64.defaultErrnoRet, 1);
    assert.deepEqual(amd64.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    assert.deepEqual(defaultSeccompProfile('arm64').architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  });

  it('allows the everyday syscalls', () => {
    const ok = allowedUnconditionally(amd64);
    for (const name of ['read', 'write', 'exit_group', 'openat', 'execve', 'mmap', 'futex', 'arch_prctl', 'chroot', 'ptrace']) {
      assert.ok(ok.has(name), name);
    }
    assert.ok(!ok.has('set_tls'), 'arm-only syscall is left out on amd64');
    assert.ok(allowedUnconditionally(defaultSeccompProfile('arm64')).has('set_tls'));
  });

  it('does not allow reboot, mount, module loading, or namespace creation without the capabilities', () => {
    const ok = allowedUnconditionally(amd64);
    for (const name of ['reboot', 'mount', 'umount2', 'unshare', 'setns', 'init_module', 'bpf', 'kexec_load', 'clock_settime']) {
      assert.ok(!ok.has(name), name);
    }
    const clone = rulesFor(amd64, 'clone');
    assert.equal(clone.length, 1);
    assert.deepEqual(clone[0]?.args, [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]);
    assert.deepEqual(rulesFor(amd64, 'clone3'), [{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
    assert.ok(rulesFor(amd64, 'personality').every((r) => r.args?.[0]?.op === 'SCMP_CMP_EQ'));
    assert.equal(rulesFor(amd64, 'socket').length, 3);
  });

  it('opens capability-gated syscalls when the capability is granted', () => {
    const admin = defaultSeccompProfile('amd64', [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT'], '6.18.44');
    const ok = allowedUnconditionally(admin);
    for (const name of ['mount', 'unshare', 'setns', 'clone', 'clone3', 'reboot']) assert.ok(ok.has(name), name);
    assert.equal(rulesFor(admin, 'clone3').some((r) => r.action === 'SCMP_ACT_ERRNO'), false);
    const noChroot = defaultSeccompProfile('amd64', DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_SYS_CHROOT'), '6.18.44');
    assert.ok(!allowedUnconditionally(noChroot).has('chroot'));
  });

  it('honours minKernel', () => {
    const old = defaultSeccompProfile('amd64', DEFAULT_CAPABILITIES, '4.4.0');
    assert.ok(!allowedUnconditionally(old).has('ptrace'));
    assert.equal(compareKernelVersions('6.1.0-13-amd64', '4.8'), 1);
    assert.equal(compareKernelVersions('4.8', '4.8.0'), 0);
    assert.equal(compareKernelVersions('4.7.9', '4.8'), -1);
  });

  it('leaves the shared profile data alone', () => {
    const before = JSON.stringify(DEFAULT_SECCOMP_PROFILE);
    const p = seccompForCapabilities(DEFAULT_SECCOMP_PROFILE, DEFAULT_CAPABILITIES, { arch: 'amd64', kernel: '6.1' });
    p.syscalls?.[0]?.names.push('reboot');
    assert.equal(JSON.stringify(DEFAULT_SECCOMP_PROFILE), before);
  });
});
