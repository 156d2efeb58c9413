import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLog, rotatedLogFiles, visitLog } from '../../src/runtime/container-log.js';
import type { ReadLogOptions } from '../../src/runtime/runtime-types.js';
import { shiftLogFiles } from '../../src/engine/containers/log-rotation.js';
import { LogFrameWriter } from '../../src/engine/containers/log-frames.js';
import { StdcopyDemuxer } from '../../src/util/stdcopy.js';

const BASE_SEC = 1_796_000_000;

function rec(i: number, stream: 'stdout' | 'stderr', tag: 'F' | 'P', content: string): Buffer {
  const iso = new Date((BASE_SEC + i) * 1000).toISOString().slice(0, 19);
  return Buffer.from(`${iso}.000000000+00:00 ${stream} ${tag} ${content}\n`);
}

function ns(i: number): bigint {
  return BigInt(BASE_SEC + i) * 1_000_000_000n;
}

let dir: string;
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-logrot-test-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A fresh directory with ctr.log.<k> ... ctr.log.1, ctr.log holding the given records (oldest file first). */
async function logSet(files: Buffer[][]): Promise<string> {
  const d = join(dir, `set${n++}`);
  await mkdir(d);
  const p = join(d, 'ctr.log');
  for (let i = 0; i < files.length; i++) {
    const k = files.length - 1 - i;
    await writeFile(k === 0 ? p : `${p}.${k}`, Buffer.concat(files[i]));
  }
  return p;
}

async function collect(p: string, opts: Partial<ReadLogOptions> = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const e of readLog(p, { stdout: true, stderr: true, ...opts })) out.push(`${e.stream}:${e.data.toString()}`);
  return out;
}

/** 3 files, 4 + 3 + 3 messages; message 5 is split P|F across the first rotation boundary. */
async function threeFiles(): Promise<string> {
  return logSet([
    [rec(0, 'stdout', 'F', 'm0'), rec(1, 'stderr', 'F', 'm1'), rec(2, 'stdout', 'F', 'm2'), rec(3, 'stdout', 'F', 'm3'), rec(4, 'stdout', 'P', 'm4-')],
    [rec(4, 'stdout', 'F', 'end'), rec(5, 'stderr', 'F', 'm5'), rec(6, 'stdout', 'F', 'm6')],
    [rec(7, 'stdout', 'F', 'm7'), rec(8, 'stderr', 'F', 'm8'), rec(9, 'stdout', 'F', 'm9')],
  ]);
}

describe('reading rotated logs', () => {
  test('rotated files are found oldest first, and read before the current one', async () => {
    const p = await threeFiles();
    assert.deepEqual(await rotatedLogFiles(p), [`${p}.2`, `${p}.1`]);
    assert.deepEqual(await collect(p), [
      'stdout:m0\n', 'stderr:m1\n', 'stdout:m2\n', 'stdout:m3\n', 'stdout:m4-end\n', 'stderr:m5\n', 'stdout:m6\n',
      'stdout:m7\n', 'stderr:m8\n', 'stdout:m9\n',
    ]);
  });

  test('tail counts back across files', async () => {
    const p = await threeFiles();
    assert.deepEqual(await collect(p, { tail: 2 }), ['stderr:m8\n', 'stdout:m9\n']);
    assert.deepEqual(await collect(p, { tail: 4 }), ['stdout:m6\n', 'stdout:m7\n', 'stderr:m8\n', 'stdout:m9\n']);
    assert.deepEqual(await collect(p, { tail: 7 }), ['stdout:m3\n', 'stdout:m4-end\n', 'stderr:m5\n', 'stdout:m6\n', 'stdout:m7\n', 'stderr:m8\n', 'stdout:m9\n']);
    assert.equal((await collect(p, { tail: 100 })).length, 10);
    assert.deepEqual(await collect(p, { tail: 3, stdout: false }), ['stderr:m1\n', 'stderr:m5\n', 'stderr:m8\n']);
  });

  test('tail does not go back for a stream that has no records near the end', async () => {
    // An unfinished stderr message at the very start and only stdout after it: the last two stdout lines are
    // the tail (an earlier reader went back to the start for stderr, reading the whole file).
    const lines = [rec(0, 'stderr', 'P', 'never ended')];
    for (let i = 1; i <= 5000; i++) lines.push(rec(i, 'stdout', 'F', `out ${i}`));
    const p = await logSet([lines]);
    assert.deepEqual(await collect(p, { tail: 2 }), ['stdout:out 4999\n', 'stdout:out 5000\n']);
  });

  test('since and until span files', async () => {
    const p = await threeFiles();
    assert.deepEqual(await collect(p, { since: ns(5), until: ns(7) }), ['stderr:m5\n', 'stdout:m6\n', 'stdout:m7\n']);
    assert.deepEqual(await collect(p, { since: ns(3), until: ns(4) }), ['stdout:m3\n', 'stdout:m4-end\n']);
  });

  test('follow carries on into the file that replaces a rotated one, losing no line', async () => {
    const p = await logSet([[rec(0, 'stdout', 'F', 'a0')]]);
    const ac = new AbortController();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const e of readLog(p, { stdout: true, stderr: true, follow: true, signal: ac.signal })) {
        seen.push(e.data.toString());
        if (seen.length === 5) ac.abort();
      }
    })();
    await appendFile(p, rec(1, 'stdout', 'F', 'a1'));
    // A rotation as berthd does it: rename, the writer adds to the renamed file, then the new file appears.
    await shiftLogFiles(p, 3);
    await appendFile(`${p}.1`, rec(2, 'stdout', 'P', 'a2-'));
    await new Promise((r) => setTimeout(r, 30));
    await writeFile(p, Buffer.concat([rec(2, 'stdout', 'F', 'tail'), rec(3, 'stdout', 'F', 'b3')]));
    await new Promise((r) => setTimeout(r, 30));
    await appendFile(p, rec(4, 'stdout', 'F', 'b4'));
    await reading;
    assert.deepEqual(seen, ['a0\n', 'a1\n', 'a2-tail\n', 'b3\n', 'b4\n']);
  });
});

describe('shiftLogFiles', () => {
  test('shifts ctr.log -> .1 -> .2 and drops what is past max-file', async () => {
    const p = await logSet([[rec(0, 'stdout', 'F', 'oldest')], [rec(1, 'stdout', 'F', 'older')], [rec(2, 'stdout', 'F', 'current')]]);
    await shiftLogFiles(p, 3);
    const d = join(p, '..');
    assert.deepEqual((await readdir(d)).sort(), ['ctr.log.1', 'ctr.log.2']);
    assert.deepEqual(await collect(`${p}`), ['stdout:older\n', 'stdout:current\n']);
    await writeFile(p, rec(3, 'stdout', 'F', 'new'));
    await shiftLogFiles(p, 1);
    assert.deepEqual((await readdir(d)).sort(), ['ctr.log.1', 'ctr.log.2']);
    await rename(`${p}.1`, p);
    assert.deepEqual(await rotatedLogFiles(p), [`${p}.2`]);
  });
});

/** Runs a log through the frame writer and returns the bytes it wrote, chunk by chunk. */
async function framesOf(p: string, opts: { framed: boolean; timestamps: boolean; bufferSize?: number }, read: Partial<ReadLogOptions> = {}): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  const w = new LogFrameWriter({ write: (c) => (chunks.push(Buffer.from(c)), true), drain: () => Promise.resolve() }, opts);
  await visitLog(p, { stdout: true, stderr: true, ...read }, w);
  return chunks;
}

function demux(chunks: Buffer[]): Array<{ stream: number; data: string }> {
  const all = Buffer.concat(chunks);
  const frames: Array<{ stream: number; data: string }> = [];
  for (let at = 0; at < all.length; ) {
    const size = all.readUInt32BE(at + 4);
    frames.push({ stream: all[at], data: all.toString('utf8', at + 8, at + 8 + size) });
    at += 8 + size;
  }
  return frames;
}

describe('LogFrameWriter', () => {
  test('consecutive messages of one stream share a frame; a stream change or a read (here: a file) ends it', async () => {
    const p = await threeFiles();
    const frames = demux(await framesOf(p, { framed: true, timestamps: false }));
    assert.deepEqual(frames, [
      { stream: 1, data: 'm0\n' },
      { stream: 2, data: 'm1\n' },
      { stream: 1, data: 'm2\nm3\n' },
      { stream: 1, data: 'm4-end\n' },
      { stream: 2, data: 'm5\n' },
      { stream: 1, data: 'm6\n' },
      { stream: 1, data: 'm7\n' },
      { stream: 2, data: 'm8\n' },
      { stream: 1, data: 'm9\n' },
    ]);
  });

  test('frames never outgrow the buffer, and the demuxed bytes are the messages in order', async () => {
    const lines: Buffer[] = [];
    const expected: string[] = [];
    for (let i = 0; i < 2000; i++) {
      lines.push(rec(i, 'stdout', 'F', `line ${i}`));
      expected.push(`line ${i}\n`);
    }
    const p = await logSet([lines]);
    const chunks = await framesOf(p, { framed: true, timestamps: false, bufferSize: 1024 });
    const frames = demux(chunks);
    assert.ok(frames.length > 10);
    for (const f of frames) assert.ok(f.data.length + 8 <= 1024, `frame of ${f.data.length}`);
    assert.equal(frames.map((f) => f.data).join(''), expected.join(''));
    // The same through the real demuxer the rest of berth uses.
    const demuxer = new StdcopyDemuxer();
    const out: Buffer[] = [];
    demuxer.on('data', (f: { data: Buffer }) => out.push(f.data));
    for (const c of chunks) demuxer.write(c);
    demuxer.end();
    await new Promise((r) => demuxer.on('end', r));
    assert.equal(Buffer.concat(out).toString(), expected.join(''));
  });

  test('timestamps use Docker\'s Z form; raw output (TTY) has no frames', async () => {
    const p = await logSet([[rec(0, 'stdout', 'F', 'hi'), rec(1, 'stderr', 'F', 'there')]]);
    const iso0 = new Date(BASE_SEC * 1000).toISOString().slice(0, 19);
    const iso1 = new Date((BASE_SEC + 1) * 1000).toISOString().slice(0, 19);
    const raw = Buffer.concat(await framesOf(p, { framed: false, timestamps: true })).toString();
    assert.equal(raw, `${iso0}.000000000Z hi\n${iso1}.000000000Z there\n`);
    const tail = demux(await framesOf(p, { framed: true, timestamps: false }, { tail: 1 }));
    assert.deepEqual(tail, [{ stream: 2, data: 'there\n' }]);
  });
});
