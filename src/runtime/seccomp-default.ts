import { release } from 'node:os';
import { invalidArgument } from '../errors.js';
import { DEFAULT_CAPABILITIES } from './capabilities.js';
import type { LinuxSeccomp, LinuxSeccompArg, LinuxSyscall, SeccompAction } from './oci-types.js';

/**
 * Docker's default seccomp profile: an allowlist (everything else fails with EPERM), with rules that
 * apply only on some architectures, only from some kernel version, or only when the container holds
 * (or lacks) a capability. The facts (which syscalls, which conditions) are Docker's (moby/profiles);
 * the representation and the filtering are berth's.
 *
 * A profile given with `--security-opt seccomp=<file>` is in the same Docker format (archMap,
 * includes/excludes) or already in OCI form (architectures); `seccompForCapabilities` handles both.
 */

export type SeccompArch = 'amd64' | 'arm64';

/** Conditions of a rule, as in Docker's profile format. */
export interface SeccompFilter {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

export interface DockerSyscallRule {
  names?: string[];
  name?: string; // older profiles
  action: SeccompAction;
  errnoRet?: number;
  args?: LinuxSeccompArg[] | null;
  includes?: SeccompFilter | null;
  excludes?: SeccompFilter | null;
  comment?: string;
}

export interface DockerSeccompProfile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: Array<{ architecture: string; subArchitectures: string[] | null }>;
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: DockerSyscallRule[];
}

const EPERM = 1;
const ENOSYS = 38;

/** Flags of clone(2) that create namespaces: CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET. */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;

const words = (lines: string[]): string[] => lines.join(' ').split(/\s+/).filter(Boolean);

/** Syscalls every container may make. */
const ALWAYS_ALLOWED = words([
  'accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown chown32 clock_adjtime',
  'clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep',
  'clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3 epoll_create',
  'epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2',
  'execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir',
  'fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork',
  'fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex',
  'futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat getcpu getcwd getdents getdents64',
  'getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid',
  'getpgrp getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit',
  'get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32',
  'getxattr getxattrat inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy',
  'io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill',
  'landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat listen',
  'listmount listxattr listxattrat llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise',
  'map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2',
  'mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64',
  'mq_timedsend mq_timedsend_time64 mq_unlink mremap mseal msgctl msgget msgrcv msgsnd msync munlock munlockall',
  'munmap name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause pidfd_open',
  'pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv',
  'preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink',
  'readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr removexattrat',
  'rename renameat renameat2 restart_syscall riscv_hwprobe rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask',
  'rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo',
  'sched_getaffinity sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min',
  'sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr',
  'sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64',
  'send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32',
  'setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid',
  'setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address',
  'setuid setuid32 setxattr setxattrat shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4',
  'sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statmount statx symlink',
  'symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun',
  'timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64',
  'timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat',
  'uretprobe utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev',
]);

/** Syscalls that need CAP_SYS_ADMIN (mounts, namespaces, bpf, ...). */
const SYS_ADMIN_SYSCALLS = words([
  'bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie lsm_get_self_attr',
  'lsm_list_modules lsm_set_self_attr mount mount_setattr move_mount open_tree perf_event_open quotactl',
  'quotactl_fd setdomainname sethostname setns syslog umount umount2 unshare',
]);

const allow = (names: string[], more: Partial<DockerSyscallRule> = {}): DockerSyscallRule => ({
  names,
  action: 'SCMP_ACT_ALLOW',
  ...more,
});
const argIs = (index: number, op: LinuxSeccompArg['op'], value: number): LinuxSeccompArg[] => [{ index, value, op }];
const withCap = (cap: string): { includes: SeccompFilter } => ({ includes: { caps: [cap] } });

/** Docker's default profile, in Docker's profile format. */
export const DEFAULT_SECCOMP_PROFILE: DockerSeccompProfile = {
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: EPERM,
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
  ],
  syscalls: [
    allow(ALWAYS_ALLOWED),
    // ptrace became safe to allow once the kernel stopped letting it bypass seccomp (4.8).
    allow(['process_vm_readv', 'process_vm_writev', 'ptrace'], { includes: { minKernel: '4.8' } }),
    // socket: every family except AF_ALG (38) and AF_VSOCK (40).
    allow(['socket'], { args: argIs(0, 'SCMP_CMP_LT', 38) }),
    allow(['socket'], { args: argIs(0, 'SCMP_CMP_EQ', 39) }),
    allow(['socket'], { args: argIs(0, 'SCMP_CMP_GT', 40) }),
    // personality: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and the 0xffffffff query.
    ...[0x0, 0x8, 0x20000, 0x20008, 0xffffffff].map((v) => allow(['personality'], { args: argIs(0, 'SCMP_CMP_EQ', v) })),
    allow(['sync_file_range2', 'swapcontext'], { includes: { arches: ['ppc64le'] } }),
    allow(['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls'], {
      includes: { arches: ['arm', 'arm64'] },
    }),
    allow(['arch_prctl'], { includes: { arches: ['amd64', 'x32'] } }),
    allow(['modify_ldt'], { includes: { arches: ['amd64', 'x32', 'x86'] } }),
    allow(['s390_pci_mmio_read', 's390_pci_mmio_write', 's390_runtime_instr'], { includes: { arches: ['s390', 's390x'] } }),
    allow(['riscv_flush_icache'], { includes: { arches: ['riscv64'] } }),
    allow(['open_by_handle_at'], withCap('CAP_DAC_READ_SEARCH')),
    allow(SYS_ADMIN_SYSCALLS, withCap('CAP_SYS_ADMIN')),
    // Without CAP_SYS_ADMIN, clone may not create namespaces...
    allow(['clone'], {
      args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      excludes: { caps: ['CAP_SYS_ADMIN'], arches: ['s390', 's390x'] },
    }),
    allow(['clone'], {
      comment: 's390 parameter ordering for clone is different',
      args: [{ index: 1, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      includes: { arches: ['s390', 's390x'] },
      excludes: { caps: ['CAP_SYS_ADMIN'] },
    }),
    // ...and clone3 (whose flags live in memory seccomp cannot read) says ENOSYS so libc falls back to clone.
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS, excludes: { caps: ['CAP_SYS_ADMIN'] } },
    allow(['reboot'], withCap('CAP_SYS_BOOT')),
    allow(['chroot'], withCap('CAP_SYS_CHROOT')),
    allow(['delete_module', 'init_module', 'finit_module'], withCap('CAP_SYS_MODULE')),
    allow(['acct'], withCap('CAP_SYS_PACCT')),
    allow(['kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev', 'ptrace'], withCap('CAP_SYS_PTRACE')),
    allow(['iopl', 'ioperm'], withCap('CAP_SYS_RAWIO')),
    allow(['settimeofday', 'stime', 'clock_settime', 'clock_settime64'], withCap('CAP_SYS_TIME')),
    allow(['vhangup'], withCap('CAP_SYS_TTY_CONFIG')),
    allow(['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node'], withCap('CAP_SYS_NICE')),
    allow(['syslog'], withCap('CAP_SYSLOG')),
    allow(['bpf'], withCap('CAP_BPF')),
    allow(['perf_event_open'], withCap('CAP_PERFMON')),
  ],
};

const SECCOMP_ARCH: Record<string, string> = {
  x86: 'SCMP_ARCH_X86',
  amd64: 'SCMP_ARCH_X86_64',
  arm: 'SCMP_ARCH_ARM',
  arm64: 'SCMP_ARCH_AARCH64',
  ppc64le: 'SCMP_ARCH_PPC64LE',
  riscv64: 'SCMP_ARCH_RISCV64',
  s390: 'SCMP_ARCH_S390',
  s390x: 'SCMP_ARCH_S390X',
};

/** Node's process.arch in Docker's (Go's) words. */
export function hostSeccompArch(): string {
  switch (process.arch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return 'x86';
    default:
      return process.arch;
  }
}

/** -1, 0, 1 as a < b, a = b, a > b, comparing dotted kernel versions ("6.1.0-13-amd64" counts as 6.1.0). */
export function compareKernelVersions(a: string, b: string): number {
  const parse = (v: string): number[] => (v.match(/^\d+(\.\d+)*/)?.[0] ?? '0').split('.').map(Number);
  const pa = parse(a);
  const pb = parse(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

export interface SeccompTarget {
  arch?: string; // Docker's arch name; default: this host's
  kernel?: string; // kernel release; default: this host's
}

function ruleApplies(rule: DockerSyscallRule, caps: ReadonlySet<string>, arch: string, kernel: string): boolean {
  const ex = rule.excludes;
  if (ex) {
    if (ex.arches?.includes(arch)) return false;
    if (ex.caps?.some((c) => caps.has(c))) return false;
    if (ex.minKernel && compareKernelVersions(kernel, ex.minKernel) >= 0) return false;
  }
  const inc = rule.includes;
  if (inc) {
    if (inc.arches && inc.arches.length > 0 && !inc.arches.includes(arch)) return false;
    if (inc.caps && !inc.caps.every((c) => caps.has(c))) return false;
    if (inc.minKernel && compareKernelVersions(kernel, inc.minKernel) < 0) return false;
  }
  return true;
}

/**
 * The OCI seccomp filter for a container holding `caps` (its bounding set): the rules of a Docker-format
 * profile whose conditions hold, with the architectures of `target.arch`. Invalid profiles are refused
 * with Docker's reasons.
 */
export function seccompForCapabilities(
  profile: DockerSeccompProfile,
  caps: readonly string[],
  target: SeccompTarget = {},
): LinuxSeccomp {
  const arch = target.arch ?? hostSeccompArch();
  const kernel = target.kernel ?? release();
  if (profile.architectures?.length && profile.archMap?.length) {
    throw invalidArgument(
      "both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'",
    );
  }
  const out: LinuxSeccomp = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  const architectures = [...(profile.architectures ?? [])];
  const native = SECCOMP_ARCH[arch];
  const mapped = profile.archMap?.find((a) => a.architecture === native);
  if (mapped) architectures.push(mapped.architecture, ...(mapped.subArchitectures ?? []));
  if (architectures.length > 0) out.architectures = architectures;
  if (profile.flags?.length) out.flags = [...profile.flags];
  if (profile.listenerPath) out.listenerPath = profile.listenerPath;
  if (profile.listenerMetadata) out.listenerMetadata = profile.listenerMetadata;

  const held = new Set(caps);
  const syscalls: LinuxSyscall[] = [];
  for (const rule of profile.syscalls ?? []) {
    if (rule.name && rule.names?.length) {
      throw invalidArgument("both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'");
    }
    if (!ruleApplies(rule, held, arch, kernel)) continue;
    const names = rule.name ? [rule.name] : [...(rule.names ?? [])];
    const syscall: LinuxSyscall = { names, action: rule.action };
    if (rule.errnoRet !== undefined) syscall.errnoRet = rule.errnoRet;
    if (rule.args?.length) syscall.args = rule.args.map((a) => ({ ...a }));
    syscalls.push(syscall);
  }
  out.syscalls = syscalls;
  return out;
}

/** Docker's default profile for a container holding `caps` (Docker's defaults unless told). */
export function defaultSeccompProfile(
  arch: SeccompArch,
  caps: readonly string[] = DEFAULT_CAPABILITIES,
  kernel: string = release(),
): LinuxSeccomp {
  return seccompForCapabilities(DEFAULT_SECCOMP_PROFILE, caps, { arch, kernel });
}

/** A profile from `--security-opt seccomp=<json>`: checked for shape, then filtered like the default one. */
export function parseSeccompProfile(json: unknown): DockerSeccompProfile {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw invalidArgument('Decoding seccomp profile failed: not a JSON object');
  }
  const p = json as Record<string, unknown>;
  if (typeof p.defaultAction !== 'string') {
    throw invalidArgument('Decoding seccomp profile failed: defaultAction is missing');
  }
  if (p.syscalls !== undefined && p.syscalls !== null && !Array.isArray(p.syscalls)) {
    throw invalidArgument('Decoding seccomp profile failed: syscalls is not a list');
  }
  for (const rule of (p.syscalls as unknown[] | null | undefined) ?? []) {
    const r = rule as Record<string, unknown> | null;
    if (typeof r !== 'object' || r === null || typeof r.action !== 'string') {
      throw invalidArgument('Decoding seccomp profile failed: a syscall rule has no action');
    }
  }
  return json as DockerSeccompProfile;
}
