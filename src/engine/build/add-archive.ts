/**
 * ADD of a local archive: a source file that is a tar (plain, gzip, bzip2, xz or zstd, told apart by content as
 * Docker does, never by name) is unpacked into the destination instead of being copied. Owners come from --chown
 * when given, else from the archive. Names that would be whiteouts in a layer (`.wh.*`) are left out: a layer
 * cannot carry them as files, and they must not delete anything.
 */
import { createReadStream } from 'node:fs';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { decompressAny } from './build-context.js';
import type { CopyEntry } from './copy-layer.js';
import { extractPlainTar } from './plain-extract.js';

const COMPRESSED_MAGIC: Buffer[] = [
  Buffer.from([0x1f, 0x8b]), // gzip
  Buffer.from('BZh', 'latin1'), // bzip2
  Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), // xz
  Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), // zstd
];

/** A 512-byte block that is a tar header: its checksum field matches the sum of its bytes. */
export function isTarHeader(block: Buffer): boolean {
  if (block.length < 512) return false;
  const field = block.subarray(148, 156).toString('latin1').replace(/\0.*$/s, '').trim();
  if (!/^[0-7]+$/.test(field)) return false;
  const want = parseInt(field, 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  return sum === want;
}

async function firstBytes(stream: NodeJS.ReadableStream & { destroy(): void }, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      parts.push(chunk);
      have += chunk.length;
      if (have >= n) break;
    }
  } catch {
    /* a corrupt stream is simply not an archive */
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts).subarray(0, n);
}

/** Whether ADD unpacks this file: it starts a tar stream, possibly compressed. */
export async function isLocalArchive(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  let head: Buffer;
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, 512, 0);
    head = buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  if (COMPRESSED_MAGIC.some((m) => head.length >= m.length && head.subarray(0, m.length).equals(m))) {
    return isTarHeader(await firstBytes(decompressAny(createReadStream(path)), 512));
  }
  return isTarHeader(head);
}

function isWhiteoutName(rel: string): boolean {
  return posix.basename(rel).startsWith('.wh.');
}

/** Unpacks `archive` into `scratch` and returns the layer entries that put its contents under `destDir`. */
export async function archiveEntries(
  archive: string,
  scratch: string,
  destDir: string,
  owner: { uid: number; gid: number } | undefined,
): Promise<CopyEntry[]> {
  await extractPlainTar(decompressAny(createReadStream(archive)), scratch, { keepOwners: true, skip: isWhiteoutName, what: 'archive' });
  const out: CopyEntry[] = [];
  const base = destDir === '/' ? '' : destDir;
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(posix.join(scratch, rel))).sort()) {
      const childRel = rel ? `${rel}/${name}` : name;
      const abs = posix.join(scratch, childRel);
      const st = await lstat(abs);
      if (!st.isDirectory() && !st.isFile() && !st.isSymbolicLink()) continue;
      const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file';
      out.push({
        source: abs,
        target: `${base}/${childRel}`,
        kind,
        mode: st.mode & 0o7777,
        uid: owner?.uid ?? st.uid,
        gid: owner?.gid ?? st.gid,
        size: kind === 'file' ? st.size : 0,
        mtime: st.mtime,
        ...(kind === 'symlink' ? { linkname: await readlink(abs) } : {}),
      });
      if (kind === 'dir') await walk(childRel);
    }
  };
  await walk('');
  return out;
}
