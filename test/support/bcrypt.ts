/**
 * A small bcrypt ($2y$) for htpasswd files in tests: docker-registry accepts only bcrypt entries and
 * neither `htpasswd` nor a bcrypt package is installed. Blowfish's initial state is the fractional
 * part of pi in hex, computed here (Machin's formula in BigInt) instead of pasted as a table.
 */
import { randomBytes } from 'node:crypto';

const WORDS = 18 + 4 * 256;
let piWords: Uint32Array | undefined;

function arctanInverse(x: bigint, scale: bigint): bigint {
  // arctan(1/x) * scale = sum (-1)^k scale / ((2k+1) x^(2k+1))
  let power = scale / x;
  const x2 = x * x;
  let sum = 0n;
  for (let k = 0n; power !== 0n; k++) {
    const term = power / (2n * k + 1n);
    sum += k % 2n === 0n ? term : -term;
    power /= x2;
  }
  return sum;
}

/** The first 1042 32-bit words of pi's fractional part: Blowfish's P-array and S-boxes. */
function piFraction(): Uint32Array {
  if (piWords) return piWords;
  const bits = BigInt(WORDS * 32);
  const guard = 64n;
  const scale = 1n << (bits + guard);
  const pi = 16n * arctanInverse(5n, scale) - 4n * arctanInverse(239n, scale);
  const fraction = (pi % scale) >> guard;
  const words = new Uint32Array(WORDS);
  for (let i = 0; i < WORDS; i++) {
    words[i] = Number((fraction >> (bits - 32n * BigInt(i + 1))) & 0xffffffffn);
  }
  piWords = words;
  return words;
}

class Blowfish {
  readonly p: Uint32Array;
  readonly s: Uint32Array; // four S-boxes of 256 words, back to back

  constructor() {
    const pi = piFraction();
    this.p = pi.slice(0, 18);
    this.s = pi.slice(18);
  }

  private f(x: number): number {
    const s = this.s;
    const a = s[x >>> 24]!;
    const b = s[256 + ((x >>> 16) & 0xff)]!;
    const c = s[512 + ((x >>> 8) & 0xff)]!;
    const d = s[768 + (x & 0xff)]!;
    return ((((a + b) >>> 0) ^ c) + d) >>> 0;
  }

  encrypt(block: Uint32Array, off: number): void {
    let l = block[off]!;
    let r = block[off + 1]!;
    for (let i = 0; i < 16; i += 2) {
      l = (l ^ this.p[i]!) >>> 0;
      r = (r ^ this.f(l)) >>> 0;
      r = (r ^ this.p[i + 1]!) >>> 0;
      l = (l ^ this.f(r)) >>> 0;
    }
    block[off] = (r ^ this.p[17]!) >>> 0;
    block[off + 1] = (l ^ this.p[16]!) >>> 0;
  }

  /** Bcrypt's ExpandKey: key into P, then re-encrypt P and S with the salt words mixed in. */
  expand(key: Uint8Array, salt: Uint8Array | undefined): void {
    let kp = 0;
    const keyWord = (): number => {
      let w = 0;
      for (let i = 0; i < 4; i++) {
        w = ((w << 8) | key[kp]!) >>> 0;
        kp = (kp + 1) % key.length;
      }
      return w;
    };
    let sp = 0;
    const saltWord = (): number => {
      if (!salt) return 0;
      let w = 0;
      for (let i = 0; i < 4; i++) {
        w = ((w << 8) | salt[sp]!) >>> 0;
        sp = (sp + 1) % salt.length;
      }
      return w;
    };
    for (let i = 0; i < 18; i++) this.p[i] = (this.p[i]! ^ keyWord()) >>> 0;
    const block = new Uint32Array(2);
    const fill = (target: Uint32Array, count: number): void => {
      for (let i = 0; i < count; i += 2) {
        block[0] = (block[0]! ^ saltWord()) >>> 0;
        block[1] = (block[1]! ^ saltWord()) >>> 0;
        this.encrypt(block, 0);
        target[i] = block[0]!;
        target[i + 1] = block[1]!;
      }
    };
    fill(this.p, 18);
    fill(this.s, 1024);
  }
}

const ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** bcrypt's own base64: its alphabet, no padding. */
function encode64(data: Uint8Array, length: number): string {
  let out = '';
  let i = 0;
  while (i < length) {
    let c1 = data[i++]!;
    out += ALPHABET[c1 >> 2];
    c1 = (c1 & 0x03) << 4;
    if (i >= length) {
      out += ALPHABET[c1];
      break;
    }
    let c2 = data[i++]!;
    out += ALPHABET[c1 | (c2 >> 4)];
    c2 = (c2 & 0x0f) << 2;
    if (i >= length) {
      out += ALPHABET[c2];
      break;
    }
    const c3 = data[i++]!;
    out += ALPHABET[c2 | (c3 >> 6)];
    out += ALPHABET[c3 & 0x3f];
  }
  return out;
}

function decode64(s: string, length: number): Uint8Array {
  const vals = [...s].map((ch) => {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) throw new Error(`invalid bcrypt base64 character ${ch}`);
    return v;
  });
  const out = new Uint8Array(length);
  let o = 0;
  for (let i = 0; o < length; i += 4) {
    const [a = 0, b = 0, c = 0, d = 0] = vals.slice(i, i + 4);
    out[o++] = (a << 2) | (b >> 4);
    if (o < length) out[o++] = ((b & 0x0f) << 4) | (c >> 2);
    if (o < length) out[o++] = ((c & 0x03) << 6) | d;
  }
  return out;
}

/** bcrypt of `password` with a given 22-character salt string and cost (log2 rounds). */
export function bcryptWithSalt(password: string, salt22: string, cost: number, prefix = '2y'): string {
  if (cost < 4 || cost > 31) throw new Error('bcrypt cost must be between 4 and 31');
  const salt = decode64(salt22, 16);
  const key = Buffer.concat([Buffer.from(password, 'utf8'), Buffer.from([0])]).subarray(0, 72);
  const bf = new Blowfish();
  bf.expand(key, salt);
  for (let i = 0; i < 2 ** cost; i++) {
    bf.expand(key, undefined);
    bf.expand(salt, undefined);
  }
  const text = Buffer.from('OrpheanBeholderScryDoubt', 'latin1');
  const ctext = new Uint32Array(6);
  for (let i = 0; i < 6; i++) ctext[i] = text.readUInt32BE(i * 4);
  for (let i = 0; i < 64; i++) for (let j = 0; j < 6; j += 2) bf.encrypt(ctext, j);
  const bytes = Buffer.alloc(24);
  for (let i = 0; i < 6; i++) bytes.writeUInt32BE(ctext[i]!, i * 4);
  const costText = String(cost).padStart(2, '0');
  return `$${prefix}$${costText}$${encode64(salt, 16).slice(0, 22)}${encode64(bytes, 23)}`;
}

/** A fresh `$2y$` hash with a random salt. Cost 4 keeps tests fast; registries accept it. */
export function bcryptHash(password: string, cost = 4): string {
  return bcryptWithSalt(password, encode64(randomBytes(16), 16).slice(0, 22), cost);
}
