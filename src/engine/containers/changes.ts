import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { getxattr } from '../../runtime/libc.js';

/** Docker's change kinds for GET /containers/{id}/changes. */
export const CHANGE_MODIFIED = 0;
export const CHANGE_ADDED = 1;
export const CHANGE_DELETED = 2;

export interface Change {
  Path: string;
  Kind: number;
}

async function existsBelow(lowers: string[], rel: string): Promise<boolean> {
  for (const dir of lowers) {
    try {
      const st = await lstat(path.join(dir, rel));
      // An overlay whiteout in a lower layer hides the path from every layer beneath it.
      return !(st.isCharacterDevice() && st.rdev === 0);
    } catch {
      /* not in this layer */
    }
  }
  return false;
}

/**
 * What the container changed, read from its overlay upper dir: whiteouts are deletions, paths the image has are
 * modifications, the rest additions (Docker's `docker diff`).
 */
export async function containerChanges(upper: string, lowers: string[]): Promise<Change[]> {
  const out: Change[] = [];
  const walk = async (rel: string, parentAdded: boolean): Promise<void> => {
    const entries = await readdir(path.join(upper, rel), { withFileTypes: true }).catch(() => []);
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const childRel = path.join(rel, e.name);
      const full = path.join(upper, childRel);
      const st = await lstat(full);
      if (st.isCharacterDevice() && st.rdev === 0) {
        out.push({ Path: '/' + childRel, Kind: CHANGE_DELETED });
        continue;
      }
      const added = parentAdded || !(await existsBelow(lowers, childRel));
      out.push({ Path: '/' + childRel, Kind: added ? CHANGE_ADDED : CHANGE_MODIFIED });
      if (st.isDirectory()) {
        const opaque = getxattr(full, 'trusted.overlay.opaque')?.toString() === 'y';
        await walk(childRel, added || opaque);
      }
    }
  };
  await walk('', false);
  return hideRuntimeMountpoints(out);
}

/** Files and dirs the runtime creates to mount over: Docker leaves them out of `docker diff`. */
const MOUNTPOINTS = new Set(['/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/proc', '/sys', '/dev', '/.dockerenv']);

function hideRuntimeMountpoints(changes: Change[]): Change[] {
  const kept = changes.filter((c) => !(c.Kind === CHANGE_ADDED && (MOUNTPOINTS.has(c.Path) || c.Path.startsWith('/dev/'))));
  // A directory "changed" only because a hidden mount point was created in it is no change either.
  return kept.filter(
    (c) => c.Kind !== CHANGE_MODIFIED || !changes.some((o) => o.Path.startsWith(c.Path + '/')) || kept.some((o) => o.Path.startsWith(c.Path + '/')),
  );
}
