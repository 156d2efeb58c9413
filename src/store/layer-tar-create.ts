import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { once } from 'node:events';
import tarStream from 'tar-stream';
import { getxattr } from '../runtime/libc.js';
import { OPAQUE_MARKER, OPAQUE_XATTR, WHITEOUT_PREFIX } from './overlay-format.js';

type Header = Partial<tarStream.Header> & { name: string };

const CAPABILITY_XATTR = 'security.capability';

/** Byte order, so the same tree always gives the same tar whatever the locale. */
function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function devMajor(rdev: number): number {
  return ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
}

function devMinor(rdev: number): number {
  return (rdev & 0xff) | ((Math.floor(rdev / 2 ** 12) & ~0xff) >>> 0);
}

/** One PAX record, `<len> <key>=<value>\n`, where len counts the whole record including its own digits. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

function fitsUstarName(name: string): boolean {
  return name.length <= 100 && Buffer.byteLength(name) === name.length;
}

function addEntry(pack: tarStream.Pack, header: Header, body?: Buffer): Promise<void> {
  const h = header as tarStream.Header;
  // A file entry waits for its body to end, even an empty one.
  if (!body && (h.type === 'file' || h.type === 'contiguous-file')) body = Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
    if (body) pack.entry(h, body, cb);
    else pack.entry(h, cb);
  });
}

function putOctal(buf: Buffer, value: number, offset: number, width: number): void {
  buf.write(`${value.toString(8).padStart(width - 1, '0')}\0`, offset, width, 'latin1');
}

/** The 512-byte ustar header of a PAX extended header ('x') whose records are `size` bytes long. */
function paxHeaderBlock(size: number, mtime: Date): Buffer {
  const buf = Buffer.alloc(512);
  buf.write('PaxHeader', 0, 100, 'latin1');
  putOctal(buf, 0o644, 100, 8);
  putOctal(buf, 0, 108, 8);
  putOctal(buf, 0, 116, 8);
  putOctal(buf, size, 124, 12);
  putOctal(buf, Math.max(0, Math.floor(mtime.getTime() / 1000)), 136, 12);
  buf.write('        ', 148, 8, 'latin1'); // the checksum counts its own field as spaces
  buf.write('x', 156, 1, 'latin1');
  buf.write('ustar\0', 257, 6, 'latin1');
  buf.write('00', 263, 2, 'latin1');
  let sum = 0;
  for (const b of buf) sum += b;
  buf.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return buf;
}

/**
 * tar-stream encodes PAX values as UTF-8 text and cannot carry a binary capability, so for such a file the PAX
 * header is pushed into the pack's output here, between two entries (nothing else is being written then). The path
 * goes in it too when the name does not fit the ustar field, so tar-stream writes no second PAX header of its own.
 */
function addPaxXattr(pack: tarStream.Pack, header: Header, key: string, value: Buffer): Header {
  const records = [paxRecord(`SCHILY.xattr.${key}`, value)];
  let name = header.name;
  if (!fitsUstarName(name)) {
    records.unshift(paxRecord('path', Buffer.from(name)));
    name = name.replace(/[^\x20-\x7e]/g, '_').slice(-100);
  }
  const body = Buffer.concat(records);
  const padding = Buffer.alloc((512 - (body.length % 512)) % 512);
  pack.push(Buffer.concat([paxHeaderBlock(body.length, header.mtime ?? new Date(0)), body, padding]));
  return { ...header, name };
}

class TreeWriter {
  /** First name seen for each multiply-linked inode; later names become hard link entries. */
  private readonly inodes = new Map<string, string>();

  constructor(
    private readonly root: string,
    private readonly pack: tarStream.Pack,
  ) {}

  async writeDir(rel: string): Promise<void> {
    const abs = rel === '' ? this.root : join(this.root, rel);
    const names = (await readdir(abs)).sort(compareNames);
    for (const name of names) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      await this.writeEntry(childRel, rel, name);
    }
  }

  /** Streams a file's bytes into its entry, waiting whenever the tar's reader is behind. */
  private async copyFile(abs: string, header: Header): Promise<void> {
    let sink!: ReturnType<tarStream.Pack['entry']>;
    const done = new Promise<void>((resolve, reject) => {
      sink = this.pack.entry(header as tarStream.Header, (err) => (err ? reject(err) : resolve()));
    });
    let copied = 0;
    for await (const chunk of createReadStream(abs, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      // A file that grows while being archived must not overrun its header's size.
      const room = (header.size ?? 0) - copied;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      copied += part.length;
      if (part.length > 0 && !sink.write(part)) await once(sink, 'drain');
      if (copied >= (header.size ?? 0)) break;
    }
    if (copied < (header.size ?? 0)) throw new Error(`${abs} shrank while it was being archived`);
    sink.end(undefined);
    await done;
  }

  private async writeEntry(rel: string, parentRel: string, name: string): Promise<void> {
    const abs = join(this.root, rel);
    const st = await lstat(abs);
    const base: Header = {
      name: rel,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtime: st.mtime,
    };

    if (st.isDirectory()) {
      await addEntry(this.pack, { ...base, name: `${rel}/`, type: 'directory' });
      if (getxattr(abs, OPAQUE_XATTR)?.toString() === 'y') {
        await addEntry(this.pack, { ...base, name: `${rel}/${OPAQUE_MARKER}`, type: 'file', size: 0, mode: 0o600 });
      }
      await this.writeDir(rel);
      return;
    }

    if (st.isCharacterDevice() && st.rdev === 0) {
      const whiteout = parentRel === '' ? `${WHITEOUT_PREFIX}${name}` : `${parentRel}/${WHITEOUT_PREFIX}${name}`;
      await addEntry(this.pack, { ...base, name: whiteout, type: 'file', size: 0, mode: 0o600 });
      return;
    }

    if (st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const first = this.inodes.get(key);
      if (first !== undefined) {
        await addEntry(this.pack, { ...base, type: 'link', linkname: first, size: 0 });
        return;
      }
      this.inodes.set(key, rel);
    }

    if (st.isFile()) {
      let header: Header = { ...base, type: 'file', size: st.size };
      const capability = getxattr(abs, CAPABILITY_XATTR);
      if (capability) header = addPaxXattr(this.pack, header, CAPABILITY_XATTR, capability);
      if (st.size === 0) {
        await addEntry(this.pack, header);
        return;
      }
      await this.copyFile(abs, header);
      return;
    }
    if (st.isSymbolicLink()) {
      await addEntry(this.pack, { ...base, type: 'symlink', linkname: await readlink(abs) });
      return;
    }
    if (st.isFIFO()) {
      await addEntry(this.pack, { ...base, type: 'fifo' });
      return;
    }
    if (st.isCharacterDevice() || st.isBlockDevice()) {
      await addEntry(this.pack, {
        ...base,
        type: st.isCharacterDevice() ? 'character-device' : 'block-device',
        devmajor: devMajor(st.rdev),
        devminor: devMinor(st.rdev),
      });
    }
    // Sockets are skipped, as Docker does: they mean nothing in an image.
  }
}

/**
 * A layer tar of `dir` (an overlay upper or snapshot dir): entries sorted by name so the same tree gives the same
 * bytes, overlay whiteouts and opaque dirs turned into their OCI forms, hard links kept as links.
 */
export function createLayerTar(dir: string): Readable {
  const pack = tarStream.pack();
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  pack.on('error', (err: Error) => out.destroy(err));
  pack.pipe(out as unknown as NodeJS.WritableStream);
  const writer = new TreeWriter(dir, pack);
  writer.writeDir('').then(
    () => pack.finalize(),
    (err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))),
  );
  return out;
}
