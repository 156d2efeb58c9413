import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { BerthError } from '../../src/errors.js';
import { ContentStore } from '../../src/store/content-store.js';
import { sha256Digest, type Digest } from '../../src/util/digest.js';

describe('ContentStore', () => {
  let root: string;
  let store: ContentStore;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-content-'));
    store = new ContentStore(root);
    await store.init();
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const ingestFiles = async (): Promise<string[]> => readdir(join(root, 'ingest'));

  it('commits a streamed blob under its digest and reads it back', async () => {
    const data = Buffer.alloc(3 * 1024 * 1024 + 5, 'x');
    const expected = sha256Digest(data);
    const w = store.writer({ expected, expectedSize: data.length });
    const parts: Buffer[] = [];
    for (let i = 0; i < data.length; i += 65536) parts.push(data.subarray(i, i + 65536));
    await pipeline(Readable.from(parts), w.stream);
    assert.deepEqual(await w.commit(), { digest: expected, size: data.length });
    assert.equal(store.path(expected), join(root, 'blobs', 'sha256', expected.slice(7)));
    assert.ok(await store.has(expected));
    assert.equal(await store.size(expected), data.length);
    assert.ok((await store.readBuffer(expected)).equals(data));
    const chunks: Buffer[] = [];
    for await (const c of store.read(expected)) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(data));
    assert.deepEqual(await ingestFiles(), []);
    assert.ok((await store.list()).includes(expected));
  });

  it('commit ends a stream the caller left open, and works without an expected digest', async () => {
    const w = store.writer();
    w.stream.write('hello ');
    w.stream.write('world');
    const res = await w.commit();
    assert.deepEqual(res, { digest: sha256Digest('hello world'), size: 11 });
  });

  it('refuses a digest mismatch and leaves nothing', async () => {
    const wrong = sha256Digest('something else');
    const w = store.writer({ expected: wrong });
    w.stream.end('actual bytes');
    await assert.rejects(w.commit(), (err: unknown) => {
      assert.ok(err instanceof BerthError);
      assert.equal(err.code, 'invalid_argument');
      assert.equal(err.message, `digest mismatch: expected ${wrong}, got ${sha256Digest('actual bytes')}`);
      return true;
    });
    assert.equal(await store.has(wrong), false);
    assert.equal(await store.has(sha256Digest('actual bytes')), false);
    assert.deepEqual(await ingestFiles(), []);
    await w.abort(); // harmless after a failed commit
  });

  it('refuses a size mismatch', async () => {
    const data = 'sized';
    const w = store.writer({ expected: sha256Digest(data), expectedSize: 99 });
    w.stream.end(data);
    await assert.rejects(w.commit(), /size mismatch/);
    assert.equal(await store.has(sha256Digest(data)), false);
    assert.deepEqual(await ingestFiles(), []);
  });

  it('abort removes the temp file', async () => {
    const w = store.writer();
    await new Promise<void>((resolve, reject) => w.stream.write('partial', (err) => (err ? reject(err) : resolve())));
    assert.equal((await ingestFiles()).length, 1);
    await w.abort();
    assert.deepEqual(await ingestFiles(), []);
    await assert.rejects(w.commit(), /already committed or aborted/);
  });

  it('two writers of the same digest both succeed', async () => {
    const data = 'same content twice';
    const a = store.writer({ expected: sha256Digest(data) });
    const b = store.writer({ expected: sha256Digest(data) });
    a.stream.end(data);
    b.stream.end(data);
    const [ra, rb] = await Promise.all([a.commit(), b.commit()]);
    assert.equal(ra.digest, rb.digest);
    assert.equal(await readFile(store.path(ra.digest), 'utf8'), data);
  });

  it('put stores bytes, checks an expected digest, and is idempotent', async () => {
    const d = await store.put('{"config":true}');
    assert.equal(d, sha256Digest('{"config":true}'));
    assert.equal(await store.put(Buffer.from('{"config":true}'), d), d);
    await assert.rejects(store.put('other', d), /digest mismatch/);
  });

  it('read and readBuffer of a missing blob are not_found; delete tolerates missing', async () => {
    const missing = sha256Digest('never stored');
    assert.throws(() => store.read(missing), (err: unknown) => err instanceof BerthError && err.code === 'not_found');
    await assert.rejects(store.readBuffer(missing), (err: unknown) => err instanceof BerthError && err.code === 'not_found');
    assert.equal(await store.size(missing), undefined);
    await store.delete(missing);
    const d = await store.put('to delete');
    await store.delete(d);
    assert.equal(await store.has(d), false);
  });

  it('refuses paths for malformed digests', () => {
    assert.throws(() => store.path('sha256:../../etc/passwd' as Digest), /invalid digest/);
  });

  it('cleanIngest removes leftovers of a crash', async () => {
    await writeFile(join(root, 'ingest', 'leftover-1'), 'x');
    await writeFile(join(root, 'ingest', 'leftover-2'), 'y');
    assert.equal(await store.cleanIngest(), 2);
    assert.deepEqual(await ingestFiles(), []);
    assert.equal(await store.cleanIngest(), 0);
  });
});
