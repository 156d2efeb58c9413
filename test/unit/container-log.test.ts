import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLogLine, readLog, readLogBatches } from '../../src/runtime/container-log.js';
import type { LogEntry, ReadLogOptions } from '../../src/runtime/runtime-types.js';

const BASE_SEC = 1_796_000_000; // 2026-11-30T..Z

/** A k8s-file record at BASE_SEC + i seconds (+ ns nanoseconds). */
function rec(i: number, stream: 'stdout' | 'stderr', tag: 'F' | 'P', content: string | Buffer, ns = 0): Buffer {
  const d = new Date((BASE_SEC + i) * 1000);
  const iso = d.toISOString().slice(0, 19);
  const time = `${iso}.${String(ns).padStart(9, '0')}+00:00`;
  return Buffer.concat([Buffer.from(`${time} ${stream} ${tag} `), Buffer.from(content), Buffer.from('\n')]);
}

function ns(i: number, extra = 0): bigint {
  return BigInt(BASE_SEC + i) * 1_000_000_000n + BigInt(extra);
}

async function collect(path: string, opts: Partial<ReadLogOptions> = {}): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const e of readLog(path, { stdout: true, stderr: true, ...opts })) out.push(e);
  return out;
}

const text = (es: LogEntry[]): string[] => es.map((e) => `${e.stream}:${e.data.toString()}`);

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-log-test-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parseLogLine', () => {
  test('a full stdout record', () => {
    const r = parseLogLine(Buffer.from('2026-11-29T20:38:06.484138642+00:00 stdout F hello world'));
    assert.ok(r);
    assert.equal(r.time, '2026-11-29T20:38:06.484138642+00:00');
    assert.equal(r.timeNs, BigInt(Date.UTC(2026, 10, 29, 20, 38, 6) / 1000) * 1_000_000_000n + 484138642n);
    assert.equal(r.stream, 'stdout');
    assert.equal(r.partial, false);
    assert.equal(r.content.toString(), 'hello world');
  });

  test('a partial stderr record keeps raw bytes (tabs, \\r, spaces)', () => {
    const r = parseLogLine(Buffer.from('2026-11-29T20:38:06.000000001+00:00 stderr P a\tb\r  \n'));
    assert.ok(r);
    assert.equal(r.stream, 'stderr');
    assert.equal(r.partial, true);
    assert.equal(r.content.toString(), 'a\tb\r  ');
  });

  test('an empty line and a time offset', () => {
    const r = parseLogLine(Buffer.from('2026-11-29T22:38:06.5+02:00 stdout F '));
    assert.ok(r);
    assert.equal(r.content.length, 0);
    assert.equal(r.timeNs, BigInt(Date.UTC(2026, 10, 29, 20, 38, 6) / 1000) * 1_000_000_000n + 500_000_000n);
  });

  test('garbage is rejected', () => {
    assert.equal(parseLogLine(Buffer.from('hello')), undefined);
    assert.equal(parseLogLine(Buffer.from('2026-11-29T20:38:06Z stdin F x')), undefined);
    assert.equal(parseLogLine(Buffer.from('yesterday stdout F x')), undefined);
  });
});

describe('readLog', () => {
  let mixed: string;
  before(async () => {
    mixed = join(dir, 'mixed.log');
    await writeFile(
      mixed,
      Buffer.concat([
        rec(0, 'stdout', 'F', 'one'),
        rec(1, 'stderr', 'F', 'err one'),
        rec(2, 'stdout', 'P', 'long-'),
        rec(3, 'stderr', 'F', 'err two'),
        rec(4, 'stdout', 'P', 'er-'),
        rec(5, 'stdout', 'F', 'line'),
        rec(6, 'stdout', 'F', ''),
        rec(7, 'stderr', 'F', 'err three'),
        rec(8, 'stdout', 'F', 'last'),
        Buffer.from('2026-11-30T00:00:00.000000000+00:00 stdout F unfinish'),
      ]),
    );
  });

  test('joins partial records of a stream, restores newlines, skips the unfinished last line', async () => {
    assert.deepEqual(text(await collect(mixed)), [
      'stdout:one\n',
      'stderr:err one\n',
      'stderr:err two\n',
      'stdout:long-er-line\n',
      'stdout:\n',
      'stderr:err three\n',
      'stdout:last\n',
    ]);
  });

  test('a joined message carries the time of its first record', async () => {
    const joined = (await collect(mixed)).find((e) => e.data.toString() === 'long-er-line\n');
    assert.ok(joined);
    assert.equal(parseLogLine(rec(2, 'stdout', 'F', ''))?.time, joined.time);
  });

  test('stream selection', async () => {
    assert.deepEqual(text(await collect(mixed, { stdout: false })), ['stderr:err one\n', 'stderr:err two\n', 'stderr:err three\n']);
    assert.equal((await collect(mixed, { stdout: false, stderr: false })).length, 0);
  });

  test('tail counts messages and keeps a partial message whole', async () => {
    assert.deepEqual(text(await collect(mixed, { tail: 2 })), ['stderr:err three\n', 'stdout:last\n']);
    // The 5th message from the end starts 3 records before its F, past a complete stderr message.
    assert.deepEqual(text(await collect(mixed, { tail: 4 })), ['stdout:long-er-line\n', 'stdout:\n', 'stderr:err three\n', 'stdout:last\n']);
    assert.deepEqual(text(await collect(mixed, { tail: 5 })), [
      'stderr:err two\n',
      'stdout:long-er-line\n',
      'stdout:\n',
      'stderr:err three\n',
      'stdout:last\n',
    ]);
    assert.equal((await collect(mixed, { tail: 100 })).length, 7);
    assert.equal((await collect(mixed, { tail: 0 })).length, 0);
  });

  test('tail of one stream', async () => {
    assert.deepEqual(text(await collect(mixed, { tail: 2, stderr: false })), ['stdout:\n', 'stdout:last\n']);
    assert.deepEqual(text(await collect(mixed, { tail: 3, stderr: false })), ['stdout:long-er-line\n', 'stdout:\n', 'stdout:last\n']);
    assert.deepEqual(text(await collect(mixed, { tail: 1, stdout: false })), ['stderr:err three\n']);
  });

  test('since and until (inclusive, nanoseconds)', async () => {
    assert.deepEqual(text(await collect(mixed, { since: ns(6) })), ['stdout:\n', 'stderr:err three\n', 'stdout:last\n']);
    assert.deepEqual(text(await collect(mixed, { since: ns(6, 1) })), ['stderr:err three\n', 'stdout:last\n']);
    assert.deepEqual(text(await collect(mixed, { until: ns(1) })), ['stdout:one\n', 'stderr:err one\n']);
    // A joined message is judged by its first record's time (2), and it completes at 5.
    assert.deepEqual(text(await collect(mixed, { since: ns(2), until: ns(4), stderr: false })), ['stdout:long-er-line\n']);
  });

  test('a missing file has no messages', async () => {
    assert.equal((await collect(join(dir, 'nope.log'))).length, 0);
  });

  test('a partial message left open at the end comes out without a newline', async () => {
    const p = join(dir, 'prompt.log');
    await writeFile(p, Buffer.concat([rec(0, 'stdout', 'F', 'hi\r'), rec(1, 'stdout', 'P', '/ # ')]));
    assert.deepEqual(text(await collect(p)), ['stdout:hi\r\n', 'stdout:/ # ']);
  });

  test('many records across read and tail block boundaries', async () => {
    const p = join(dir, 'big.log');
    const parts: Buffer[] = [];
    const expected: string[] = [];
    const long = 'x'.repeat(8192);
    for (let i = 0; i < 40_000; i++) {
      if (i % 1000 === 7) {
        // A 20 KiB line split the way conmon splits it.
        parts.push(rec(i, 'stdout', 'P', long), rec(i, 'stdout', 'P', long), rec(i, 'stdout', 'F', `tail${i}`));
        expected.push(`stdout:${long}${long}tail${i}\n`);
      } else {
        const s = i % 3 === 0 ? 'stderr' : 'stdout';
        parts.push(rec(i, s, 'F', `line ${i} ${'.'.repeat(i % 50)}`));
        expected.push(`${s}:line ${i} ${'.'.repeat(i % 50)}\n`);
      }
    }
    await writeFile(p, Buffer.concat(parts));
    const all: string[] = [];
    for await (const batch of readLogBatches(p, { stdout: true, stderr: true })) for (const e of batch) all.push(`${e.stream}:${e.data.toString()}`);
    assert.deepEqual(all, expected);
    assert.deepEqual(text(await collect(p, { tail: 12_345 })), expected.slice(-12_345));
    // tail ending right on a joined message (i = 39007 is split)
    const idx = expected.findIndex((e) => e.endsWith('tail39007\n'));
    assert.deepEqual(text(await collect(p, { tail: expected.length - idx })), expected.slice(idx));
  });

  test('follow hands out lines appended later, and stops on abort', async () => {
    const p = join(dir, 'follow.log');
    await writeFile(p, rec(0, 'stdout', 'F', 'before'));
    const ac = new AbortController();
    const seen: string[] = [];
    const iter = readLog(p, { stdout: true, stderr: true, follow: true, tail: 1, signal: ac.signal })[Symbol.asyncIterator]();
    const first = await iter.next();
    assert.equal(first.done, false);
    seen.push((first.value as LogEntry).data.toString());
    const nextP = iter.next();
    await appendFile(p, Buffer.concat([rec(1, 'stderr', 'P', 'par'), rec(2, 'stderr', 'F', 'tial')]));
    const second = await nextP;
    seen.push(`${(second.value as LogEntry).stream}:${(second.value as LogEntry).data.toString()}`);
    const third = iter.next();
    ac.abort();
    assert.equal((await third).done, true);
    assert.deepEqual(seen, ['before\n', 'stderr:partial\n']);
  });

  test('follow with tail 0 starts at the end', async () => {
    const p = join(dir, 'follow0.log');
    await writeFile(p, Buffer.concat([rec(0, 'stdout', 'F', 'old1'), rec(1, 'stdout', 'F', 'old2')]));
    const ac = new AbortController();
    const iter = readLog(p, { stdout: true, stderr: true, follow: true, tail: 0, signal: ac.signal })[Symbol.asyncIterator]();
    const nextP = iter.next();
    // The reader finds the end of the file asynchronously: lines appended before it got there are "old" too, so
    // keep appending until one arrives.
    let settled = false;
    void nextP.finally(() => (settled = true));
    for (let i = 0; !settled && i < 100; i++) {
      await appendFile(p, rec(2, 'stdout', 'F', 'new'));
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(((await nextP).value as LogEntry).data.toString(), 'new\n');
    ac.abort();
    assert.equal((await iter.next()).done, true);
  });
});
