/** The daemon's stable identity, kept in the data root as dockerd keeps `engine-id`. */
import { randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export async function loadDaemonId(dataRoot: string): Promise<string> {
  const file = path.join(dataRoot, 'engine-id');
  try {
    const existing = (await readFile(file, 'utf8')).trim();
    if (UUID_RE.test(existing)) return existing;
  } catch {
    // first start: fall through and create one
  }
  const id = randomUUID();
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, id + '\n', { mode: 0o600 });
  await rename(tmp, file);
  return id;
}
