/**
 * Platforms (os/architecture/variant) and the choice of one manifest from an index, following
 * containerd's normalisation and its ordered list of platforms a host can run.
 */
import { invalidArgument } from '../errors.js';

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

const KNOWN_OS = new Set([
  'aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux',
  'nacl', 'netbsd', 'openbsd', 'plan9', 'solaris', 'windows', 'zos',
]);

const KNOWN_ARCH = new Set([
  '386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'loong64', 'mips', 'mipsle',
  'mips64', 'mips64le', 'mips64p32', 'mips64p32le', 'ppc', 'ppc64', 'ppc64le', 'riscv', 'riscv64',
  's390', 's390x', 'sparc', 'sparc64', 'wasm',
]);

/** Node's process.arch in Go's GOARCH spelling, which is what image indexes use. */
const NODE_TO_GOARCH: Record<string, string> = {
  x64: 'amd64',
  ia32: '386',
  arm: 'arm',
  arm64: 'arm64',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips: 'mips',
  mipsel: 'mipsle',
  mips64el: 'mips64le',
};

/** The platform this process runs on, with arm variants filled in as docker reports them. */
export function hostPlatform(): Platform {
  const architecture = NODE_TO_GOARCH[process.arch] ?? process.arch;
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  if (architecture === 'arm64') return { os, architecture, variant: 'v8' };
  if (architecture === 'arm') {
    const vars = (process.config as { variables?: Record<string, unknown> }).variables ?? {};
    const armVersion = vars['arm_version'];
    return { os, architecture, variant: `v${typeof armVersion === 'string' || typeof armVersion === 'number' ? armVersion : '7'}` };
  }
  return { os, architecture };
}

/** containerd's normalizeArch: aliases to GOARCH, default variants made explicit or dropped. */
export function normalizePlatform(p: Platform): Platform {
  let arch = p.architecture.toLowerCase();
  let variant = (p.variant ?? '').toLowerCase();
  const os = p.os.toLowerCase() === 'macos' ? 'darwin' : p.os.toLowerCase();
  switch (arch) {
    case 'i386':
      arch = '386';
      variant = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      arch = 'amd64';
      if (variant === 'v1') variant = '';
      break;
    case 'aarch64':
    case 'arm64':
      arch = 'arm64';
      if (variant === '8' || variant === 'v8' || variant === 'v8.0') variant = '';
      break;
    case 'armhf':
      arch = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      arch = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (variant === '' || variant === '7') variant = 'v7';
      else if (variant === '5' || variant === '6' || variant === '8') variant = `v${variant}`;
      break;
  }
  const out: Platform = { os, architecture: arch };
  if (variant !== '') out.variant = variant;
  if (p['os.version']) out['os.version'] = p['os.version'];
  return out;
}

/**
 * 'linux/amd64', 'linux/arm64/v8', 'amd64' (host os), 'linux' (host arch). Architecture aliases are
 * normalised (x86_64 -> amd64, aarch64 -> arm64); the variant is kept as written.
 */
export function parsePlatform(s: string): Platform {
  const bad = (why: string) => invalidArgument(`${JSON.stringify(s)}: ${why}: invalid argument`);
  if (s.includes('*')) throw bad('wildcards not yet supported');
  const parts = s.split('/');
  if (parts.some((x) => x === '') || parts.length > 3) throw bad('unknown operating system or architecture');
  const host = hostPlatform();
  const normalizeArch = (arch: string, variant?: string): { architecture: string; variant?: string } => {
    const n = normalizePlatform({ os: 'linux', architecture: arch, ...(variant !== undefined ? { variant } : {}) });
    const out: { architecture: string; variant?: string } = { architecture: n.architecture };
    if (variant !== undefined) out.variant = variant.toLowerCase();
    // armhf/armel carry their variant in the name.
    else if (n.variant !== undefined && /^arm(hf|el)$/i.test(arch)) out.variant = n.variant;
    return out;
  };
  if (parts.length === 1) {
    const one = parts[0]!.toLowerCase();
    if (KNOWN_OS.has(one) || one === 'macos') {
      const out: Platform = { os: one === 'macos' ? 'darwin' : one, architecture: host.architecture };
      if (host.variant) out.variant = host.variant;
      return out;
    }
    const a = normalizeArch(one);
    if (!KNOWN_ARCH.has(a.architecture)) throw bad('unknown operating system or architecture');
    return { os: host.os, ...a };
  }
  const os = parts[0]!.toLowerCase() === 'macos' ? 'darwin' : parts[0]!.toLowerCase();
  if (!/^[a-z0-9_-]+$/.test(os)) throw bad('unknown operating system or architecture');
  const a = normalizeArch(parts[1]!, parts[2]);
  if (!/^[a-z0-9_-]+$/.test(a.architecture)) throw bad('unknown operating system or architecture');
  return { os, ...a };
}

/** 'linux/amd64', 'linux/arm64/v8' */
export function formatPlatform(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

/**
 * The platforms a host of platform `p` can run, best first (containerd's platformVector):
 * amd64/v3 -> v2 -> v1 -> 386; arm64 -> arm/v8 .. arm/v5; arm/v7 -> v6 -> v5.
 */
export function compatiblePlatforms(p: Platform): Platform[] {
  const n = normalizePlatform(p);
  const out: Platform[] = [n];
  const lowerVariants = (arch: string, from: number, min: number): void => {
    for (let v = from - 1; v >= min; v--) {
      const variant = arch === 'amd64' && v === 1 ? undefined : `v${v}`;
      out.push(variant ? { os: n.os, architecture: arch, variant } : { os: n.os, architecture: arch });
    }
  };
  const version = (variant: string | undefined): number => Number.parseInt((variant ?? '').replace(/^v/, ''), 10);
  switch (n.architecture) {
    case 'amd64': {
      const v = version(n.variant);
      if (Number.isFinite(v) && v > 1) lowerVariants('amd64', v, 1);
      out.push({ os: n.os, architecture: '386' });
      break;
    }
    case 'arm64': {
      out.push({ os: n.os, architecture: 'arm', variant: 'v8' });
      lowerVariants('arm', 8, 5);
      break;
    }
    case 'arm': {
      const v = version(n.variant);
      if (Number.isFinite(v)) lowerVariants('arm', v, 5);
      break;
    }
  }
  return out;
}

function samePlatform(a: Platform, b: Platform): boolean {
  const x = normalizePlatform(a);
  const y = normalizePlatform(b);
  return x.os === y.os && x.architecture === y.architecture && (x.variant ?? '') === (y.variant ?? '');
}

/**
 * The entry of an index that best fits `want`: an exact match first, then the next platform the
 * host can still run. Entries without a platform (or attestations, os 'unknown') never match.
 */
export function selectPlatformEntry<T extends { platform?: Platform }>(entries: readonly T[], want: Platform): T | undefined {
  for (const candidate of compatiblePlatforms(want)) {
    const hit = entries.find((e) => e.platform !== undefined && samePlatform(e.platform, candidate));
    if (hit) return hit;
  }
  return undefined;
}
