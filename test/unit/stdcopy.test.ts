import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import {
  encodeFrame, encodeFrameHeader, StdcopyDemuxer, StdcopyMuxer, StdcopyParser, STDERR, STDOUT, SYSTEMERR, type StdFrame,
} from '../../src/util/stdcopy.js';

async function demux(chunks: Buffer[]): Promise<StdFrame[]> {
  const frames: StdFrame[] = [];
  for await (const frame of Readable.from(chunks).pipe(new StdcopyDemuxer())) frames.push(frame as StdFrame);
  return frames;
}

test('a frame is the 8-byte header then the payload', () => {
  const frame = encodeFrame(STDERR, Buffer.from('oops\n'));
  assert.deepEqual([...frame.subarray(0, 8)], [2, 0, 0, 0, 0, 0, 0, 5]);
  assert.equal(frame.subarray(8).toString(), 'oops\n');
});

test('sizes are uint32 big-endian, beyond 64 KiB', () => {
  const header = encodeFrameHeader(STDOUT, 0x0102_0304);
  assert.deepEqual([...header], [1, 0, 0, 0, 1, 2, 3, 4]);
  assert.throws(() => encodeFrameHeader(STDOUT, 2 ** 32), RangeError);
  assert.throws(() => encodeFrameHeader(STDOUT, -1), RangeError);
});

test('demuxer: frames split at every byte boundary come out whole', async () => {
  const wire = Buffer.concat([encodeFrame(STDOUT, Buffer.from('hello')), encodeFrame(STDERR, Buffer.from('world!'))]);
  for (let cut = 0; cut <= wire.length; cut++) {
    const frames = await demux([wire.subarray(0, cut), wire.subarray(cut)]);
    assert.deepEqual(frames.map((f) => [f.stream, f.data.toString()]), [[STDOUT, 'hello'], [STDERR, 'world!']], `cut at ${cut}`);
  }
});

test('demuxer: one byte at a time, a large frame and an empty one', async () => {
  const big = Buffer.alloc(200_000, 7);
  const wire = Buffer.concat([encodeFrame(STDOUT, big), encodeFrame(SYSTEMERR, Buffer.alloc(0)), encodeFrame(STDERR, Buffer.from('x'))]);
  const parser = new StdcopyParser();
  const frames: StdFrame[] = [];
  // Byte-wise through the parser for the small tail, big chunks for the rest: both paths of the header peek.
  frames.push(...parser.push(wire.subarray(0, 3)));
  frames.push(...parser.push(wire.subarray(3, 100_000)));
  for (let i = 100_000; i < wire.length; i++) frames.push(...parser.push(wire.subarray(i, i + 1)));
  assert.equal(frames.length, 3);
  assert.equal(frames[0]?.stream, STDOUT);
  assert.ok(frames[0]?.data.equals(big));
  assert.deepEqual(frames.slice(1).map((f) => [f.stream, f.data.toString()]), [[SYSTEMERR, ''], [STDERR, 'x']]);
  assert.equal(parser.pending, 0);
});

test('demuxer: an unknown stream type is an error', async () => {
  const bad = Buffer.from([9, 0, 0, 0, 0, 0, 0, 1, 65]);
  await assert.rejects(demux([bad]), /unrecognized stream type 9/);
});

test('demuxer: ending inside a frame is an error', async () => {
  const frame = encodeFrame(STDOUT, Buffer.from('truncated'));
  await assert.rejects(demux([frame.subarray(0, 12)]), /ended inside a frame/);
});

test('muxer frames each chunk for its stream and drops empty chunks', async () => {
  const muxer = new StdcopyMuxer(STDERR);
  const out: Buffer[] = [];
  muxer.on('data', (b: Buffer) => out.push(b));
  muxer.write(Buffer.from('a'));
  muxer.write(Buffer.alloc(0));
  muxer.end(Buffer.from('bc'));
  await new Promise((r) => muxer.on('end', r));
  assert.deepEqual(Buffer.concat(out), Buffer.concat([encodeFrame(STDERR, Buffer.from('a')), encodeFrame(STDERR, Buffer.from('bc'))]));
});
