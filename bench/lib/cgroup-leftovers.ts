/**
 * dockerd (cgroupfs driver, cgroup v1) leaves an empty `docker` parent cgroup in every hierarchy.
 * A bench removes it only when it was not there before the bench started, so a machine's own
 * docker setup is left alone; rmdir refuses non-empty cgroups, so nothing in use can go.
 */
import { existsSync } from 'node:fs';
import { readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';

const CGROUP_ROOT = '/sys/fs/cgroup';

async function hierarchies(): Promise<string[]> {
  const entries = await readdir(CGROUP_ROOT, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory()).map((e) => join(CGROUP_ROOT, e.name));
}

/** Call before starting dockerd; the returned function removes the parent cgroup dockerd created, if any. */
export async function watchNewParentCgroup(name: string): Promise<() => Promise<void>> {
  const existed = new Set((await hierarchies()).filter((h) => existsSync(join(h, name))));
  return async () => {
    for (const h of await hierarchies()) {
      if (existed.has(h)) continue;
      await rmdir(join(h, name)).catch(() => undefined);
    }
  };
}
