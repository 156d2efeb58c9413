import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidArgument } from '../errors.js';
import { digestHex, isDigest, type Digest } from '../util/digest.js';

export interface PreparedSnapshot {
  /** Unpack the layer here. */
  fsDir: string;
  /** Publishes the snapshot under its chain ID; if one is already there it wins and this one is dropped. */
  commit(chainId: Digest): Promise<void>;
  abort(): Promise<void>;
}

const HEX64 = /^[a-f0-9]{64}$/;
const TEMP_PREFIX = 'tmp-';

function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/**
 * Unpacked layers, each `<root>/snapshots/<chainHex>/fs`, used as overlayfs lower dirs. A snapshot is built in a
 * temp dir and renamed into place, so one under a chain ID is always complete; temp dirs left by a crash are garbage.
 */
export class SnapshotStore {
  private readonly dir: string;

  constructor(readonly root: string) {
    this.dir = join(root, 'snapshots');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  private snapshotDir(chainId: Digest): string {
    if (!isDigest(chainId)) throw invalidArgument(`invalid chain ID: ${JSON.stringify(chainId)}`);
    return join(this.dir, digestHex(chainId));
  }

  fsPath(chainId: Digest): string {
    return join(this.snapshotDir(chainId), 'fs');
  }

  async has(chainId: Digest): Promise<boolean> {
    try {
      return (await stat(this.fsPath(chainId))).isDirectory();
    } catch (err) {
      if (errCode(err) === 'ENOENT') return false;
      throw err;
    }
  }

  private tempDir(): string {
    return join(this.dir, `${TEMP_PREFIX}${randomBytes(12).toString('hex')}`);
  }

  async prepare(): Promise<PreparedSnapshot> {
    const temp = this.tempDir();
    await mkdir(temp);
    const fsDir = join(temp, 'fs');
    await mkdir(fsDir, 0o755);
    let done = false;
    return {
      fsDir,
      commit: async (chainId) => {
        if (done) throw new Error('snapshot already committed or aborted');
        const target = this.snapshotDir(chainId);
        try {
          await rename(temp, target);
        } catch (err) {
          const code = errCode(err);
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
          // Someone else unpacked the same layer first: theirs stays.
          await rm(temp, { recursive: true, force: true });
        }
        done = true;
      },
      abort: async () => {
        if (done) return;
        done = true;
        await rm(temp, { recursive: true, force: true });
      },
    };
  }

  /** Moves the snapshot aside before deleting, so a crash half-way leaves only a temp dir, never a partial snapshot. */
  async remove(chainId: Digest): Promise<void> {
    const temp = this.tempDir();
    try {
      await rename(this.snapshotDir(chainId), temp);
    } catch (err) {
      if (errCode(err) === 'ENOENT') return;
      throw err;
    }
    await rm(temp, { recursive: true, force: true });
  }

  async list(): Promise<Digest[]> {
    const names = await readdir(this.dir);
    return names.filter((n) => HEX64.test(n)).map((n): Digest => `sha256:${n}`);
  }

  /** Removes temp dirs a crash left behind. Call at start-up, before any prepare. */
  async cleanTemp(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if (errCode(err) === 'ENOENT') return 0;
      throw err;
    }
    const temps = names.filter((n) => n.startsWith(TEMP_PREFIX));
    for (const n of temps) await rm(join(this.dir, n), { recursive: true, force: true });
    return temps.length;
  }

  /** Bytes of the snapshot's files (apparent sizes, directories not counted, each hard-linked inode once). */
  async diskUsage(chainId: Digest): Promise<number> {
    const seen = new Set<string>();
    let total = 0;
    const walk = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true });
      for (const e of entries) {
        const p = join(dir, e.name);
        const st = await lstat(p);
        if (st.nlink > 1 && !st.isDirectory()) {
          const key = `${st.dev}:${st.ino}`;
          if (seen.has(key)) continue;
          seen.add(key);
        }
        if (st.isDirectory()) await walk(p);
        else total += st.size;
      }
    };
    try {
      await walk(this.fsPath(chainId));
    } catch (err) {
      if (errCode(err) === 'ENOENT') return 0;
      throw err;
    }
    return total;
  }
}
