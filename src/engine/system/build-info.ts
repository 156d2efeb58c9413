/** berth's own version, commit and build time, as `/version` and `berthd --version` report them. */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BuildInfo {
  version: string;
  /** Short git commit of the checkout berth runs from, or '' when it is not a git checkout. */
  gitCommit: string;
  /** When this module was compiled (the mtime of its output file), RFC 3339. */
  buildTime: string;
}

function readText(p: string): string | undefined {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The nearest directory above `start` holding berth's package.json. */
export function findPackageRoot(start: string): string | undefined {
  let dir = start;
  for (;;) {
    const text = readText(path.join(dir, 'package.json'));
    if (text) {
      try {
        if ((JSON.parse(text) as { name?: unknown }).name === 'berth') return dir;
      } catch {
        // not ours; keep walking up
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Resolves HEAD by reading git's files, which also works in worktrees (`.git` is then a file). */
export function gitHeadCommit(root: string): string {
  let gitDir = path.join(root, '.git');
  const dotGit = readText(gitDir);
  if (dotGit?.startsWith('gitdir:')) gitDir = path.resolve(root, dotGit.slice('gitdir:'.length).trim());
  const head = readText(path.join(gitDir, 'HEAD'));
  if (!head) return '';
  if (!head.startsWith('ref:')) return head;
  const ref = head.slice('ref:'.length).trim();
  const common = readText(path.join(gitDir, 'commondir'));
  const commonDir = common ? path.resolve(gitDir, common) : gitDir;
  const direct = readText(path.join(gitDir, ref)) ?? readText(path.join(commonDir, ref));
  if (direct) return direct;
  const packed = readText(path.join(commonDir, 'packed-refs')) ?? '';
  for (const line of packed.split('\n')) {
    const [sha, name] = line.split(' ');
    if (name === ref && sha) return sha;
  }
  return '';
}

let cached: BuildInfo | undefined;

export function buildInfo(): BuildInfo {
  if (cached) return cached;
  const here = fileURLToPath(import.meta.url);
  const root = findPackageRoot(path.dirname(here));
  let version = '0.0.0';
  let gitCommit = '';
  if (root) {
    try {
      version = String((JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: unknown }).version ?? version);
    } catch {
      // keep the placeholder
    }
    gitCommit = gitHeadCommit(root).slice(0, 7);
  }
  let buildTime = '';
  try {
    buildTime = statSync(here).mtime.toISOString();
  } catch {
    // leave empty
  }
  cached = { version, gitCommit, buildTime };
  return cached;
}
