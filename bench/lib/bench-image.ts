/**
 * A large image for pull benches: layers of several files whose content mixes incompressible
 * bytes with log-like text, so gzip shrinks it about 2x as it does real images. The content comes
 * from a seeded generator: the same options give the same digests on every machine.
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { type BuiltImage, type BuiltLayer, type FileSpec, MEDIA_TYPES, assembleImage, buildLayerTar } from '../../test/support/oci-build.js';
import { sha256Digest } from '../../src/util/digest.js';

const gzipAsync = promisify(gzip);

export interface BenchImageOptions {
  /** Uncompressed size of each layer in MiB. */
  layerMiB?: number[];
  /** Files per layer. */
  filesPerLayer?: number;
  /** Share of each file that is random bytes (the rest is text). */
  randomShare?: number;
  seed?: number;
}

/** Six layers, about 200 MB uncompressed in all. */
export const DEFAULT_LAYER_MIB = [8, 16, 24, 36, 48, 60];

/** xorshift32: tiny, seedable and fast enough to fill hundreds of MB. */
class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.s = x;
    return x;
  }
  below(n: number): number {
    return this.next() % n;
  }
  fill(buf: Buffer): void {
    const words = new Uint32Array(buf.buffer, buf.byteOffset, Math.floor(buf.length / 4));
    for (let i = 0; i < words.length; i++) words[i] = this.next();
    for (let i = words.length * 4; i < buf.length; i++) buf[i] = this.next() & 0xff;
  }
}

const LEVELS = ['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'];
const VERBS = ['GET', 'GET', 'POST', 'PUT', 'DELETE'];
const WORDS = ['items', 'users', 'orders', 'catalog', 'search', 'auth', 'session', 'images', 'layers', 'blobs', 'metrics'];

function logLine(rng: Rng): string {
  return (
    `2024-01-01T${String(rng.below(24)).padStart(2, '0')}:${String(rng.below(60)).padStart(2, '0')}:` +
    `${String(rng.below(60)).padStart(2, '0')}.${String(rng.below(1e6)).padStart(6, '0')}Z ` +
    `${LEVELS[rng.below(LEVELS.length)]} worker-${rng.below(16)} ${VERBS[rng.below(VERBS.length)]} ` +
    `/api/v1/${WORDS[rng.below(WORDS.length)]}/${rng.below(100000)} status=${rng.below(8) === 0 ? 404 : 200} ` +
    `bytes=${rng.below(1 << 20)} id=${rng.next().toString(16).padStart(8, '0')}\n`
  );
}

/**
 * Text is drawn from a pool of lines far larger than gzip's 32 KiB window, so it compresses like
 * fresh text while costing only a copy per line (formatting every line made builds slow).
 */
class TextSource {
  private readonly lines: Buffer[];
  constructor(private readonly rng: Rng, poolSize = 16384) {
    this.lines = Array.from({ length: poolSize }, () => Buffer.from(logLine(rng)));
  }
  fill(out: Buffer): void {
    let off = 0;
    while (off < out.length) {
      const line = this.lines[this.rng.below(this.lines.length)] as Buffer;
      off += line.copy(out, off);
    }
  }
}

/** A file of `size` bytes: 64 KiB blocks, each random with probability `randomShare`, else text. */
function fileContent(rng: Rng, text: TextSource, size: number, randomShare: number): Buffer {
  const block = 64 * 1024;
  const out = Buffer.allocUnsafe(size);
  for (let off = 0; off < size; off += block) {
    const len = Math.min(block, size - off);
    const part = out.subarray(off, off + len);
    if (rng.next() / 0x100000000 < randomShare) rng.fill(part);
    else text.fill(part);
  }
  return out;
}

export async function buildBenchImage(opts: BenchImageOptions = {}): Promise<BuiltImage> {
  const layerMiB = opts.layerMiB ?? DEFAULT_LAYER_MIB;
  const filesPerLayer = opts.filesPerLayer ?? 6;
  const randomShare = opts.randomShare ?? 0.32;
  const rng = new Rng(opts.seed ?? 20240101);
  const text = new TextSource(rng);
  const tars: Buffer[] = [];
  for (const [i, mib] of layerMiB.entries()) {
    const files = new Map<string, FileSpec>([
      ['opt', { type: 'dir' }],
      [`opt/layer${i}`, { type: 'dir' }],
    ]);
    const total = mib * 1024 * 1024;
    // Uneven file sizes, like real layers: shares 1..n of the total.
    const weights = Array.from({ length: filesPerLayer }, (_, k) => k + 1);
    const sum = weights.reduce((a, b) => a + b, 0);
    let left = total;
    weights.forEach((w, k) => {
      const size = k === filesPerLayer - 1 ? left : Math.floor((total * w) / sum);
      left -= size;
      const ext = k % 2 === 0 ? 'bin' : 'log';
      files.set(`opt/layer${i}/file${k}.${ext}`, { type: 'file', content: fileContent(rng, text, size, randomShare), mode: 0o644 });
    });
    tars.push(await buildLayerTar(files));
  }
  // gzip in the thread pool, all layers at once.
  const blobs = await Promise.all(tars.map((t) => gzipAsync(t)));
  const layers: BuiltLayer[] = tars.map((t, i) => {
    const blob = blobs[i] as Buffer;
    return { tar: t, blob, diffId: sha256Digest(t), digest: sha256Digest(blob), mediaType: MEDIA_TYPES.dockerLayerGzip };
  });
  return assembleImage(layers, { config: { config: { Cmd: ['/bin/sh'] } } });
}

export function imageSizes(img: BuiltImage): { uncompressed: number; compressed: number } {
  return {
    uncompressed: img.layers.reduce((a, l) => a + l.tar.length, 0),
    compressed: img.layers.reduce((a, l) => a + l.blob.length, 0),
  };
}
