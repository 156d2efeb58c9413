/** The HTTP machinery over a real unix socket, with test routes. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BerthError, invalidArgument, notFound } from '../../src/errors.js';
import { Router } from '../../src/api/router.js';
import { ApiServer } from '../../src/api/server.js';
import { createLogger } from '../../src/daemon/log.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let dir: string;
let socketPath: string;
let server: ApiServer;
const logLines: string[] = [];
let resolveAborted: (reason: string) => void;
const aborted = new Promise<string>((r) => (resolveAborted = r));

function request(method: string, urlPath: string, body?: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path: urlPath, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'berth-api-'));
  socketPath = path.join(dir, 'api.sock');
  const router = new Router();
  router.get('/boom', () => {
    throw new Error('kaboom');
  });
  router.get('/missing', () => {
    throw notFound('No such thing: x');
  });
  router.post('/started', () => {
    throw new BerthError('not_modified', 'already started');
  });
  router.get('/images/{name:.*}/json', (ctx) => ctx.sendJson(200, { name: ctx.params['name'], apiVersion: ctx.apiVersion }));
  router.get('/query', (ctx) =>
    ctx.sendJson(200, { all: ctx.bool('all'), n: ctx.int('n', 3), filters: Object.fromEntries(ctx.filters()), auth: ctx.registryAuth() ?? null }),
  );
  router.post('/echo', async (ctx) => ctx.sendJson(201, await ctx.json<unknown>()));
  router.post('/stream', (ctx) => {
    const stream = ctx.jsonStream();
    stream.status('Pulling from library/busybox', 'latest');
    stream.progress('abc', 'Downloading', 10, 100);
    throw invalidArgument('manifest unknown');
  });
  router.post('/slow', async (ctx) => {
    const stream = ctx.jsonStream();
    stream.status('working');
    await new Promise<void>((resolve) => stream.signal.addEventListener('abort', () => resolve(), { once: true }));
    stream.status('never seen'); // must be dropped silently
    resolveAborted(`closed=${stream.closed}`);
  });
  server = new ApiServer({ router, logger: createLogger('error', (l) => logLines.push(l)), serverVersion: '9.9.9' });
  await server.listen(socketPath);
});

after(async () => {
  await server.close(100);
  rmSync(dir, { recursive: true, force: true });
});

test('every response carries the version headers, errors included', async () => {
  for (const p of ['/images/x/json', '/nope', '/v1.99/images/x/json']) {
    const r = await request('GET', p);
    assert.equal(r.headers['api-version'], '1.50', p);
    assert.equal(r.headers['server'], 'berth/9.9.9 (linux)', p);
    assert.equal(r.headers['docker-experimental'], 'false', p);
    assert.equal(r.headers['ostype'], 'linux', p);
  }
});

test('unknown routes are 404 page not found in JSON', async () => {
  const r = await request('GET', '/v1.50/nope');
  assert.equal(r.status, 404);
  assert.match(r.headers['content-type'] ?? '', /^application\/json/);
  assert.deepEqual(JSON.parse(r.body), { message: 'page not found' });
});

test('versions: prefix negotiated, too new refused', async () => {
  assert.equal(JSON.parse((await request('GET', '/v1.41/images/a/json')).body).apiVersion, '1.41');
  assert.equal(JSON.parse((await request('GET', '/images/a/json')).body).apiVersion, '1.50');
  const r = await request('GET', '/v1.99/images/a/json');
  assert.equal(r.status, 400);
  assert.deepEqual(JSON.parse(r.body), { message: 'client version 1.99 is too new. Maximum supported API version is 1.50' });
});

test('greedy names arrive decoded', async () => {
  const r = await request('GET', '/v1.50/images/127.0.0.1:5000/team%2Fapp:v1/json');
  assert.equal(JSON.parse(r.body).name, '127.0.0.1:5000/team/app:v1');
});

test('BerthError maps to its status, other errors to 500 and an error log line', async () => {
  const missing = await request('GET', '/missing');
  assert.equal(missing.status, 404);
  assert.deepEqual(JSON.parse(missing.body), { message: 'No such thing: x' });
  const boom = await request('GET', '/boom');
  assert.equal(boom.status, 500);
  assert.deepEqual(JSON.parse(boom.body), { message: 'kaboom' });
  assert.ok(logLines.some((l) => l.includes('level=error') && l.includes('kaboom')));
  const started = await request('POST', '/started');
  assert.equal(started.status, 304);
  assert.equal(started.body, '');
});

test('query decoding: bools, ints, filters, registry auth', async () => {
  const auth = Buffer.from(JSON.stringify({ username: 'u', password: 'p' })).toString('base64url');
  const q = new URLSearchParams({ all: 'True', n: '7', filters: JSON.stringify({ label: { a: true } }) });
  const r = await request('GET', `/query?${q.toString()}`, undefined, { 'X-Registry-Auth': auth });
  assert.deepEqual(JSON.parse(r.body), { all: true, n: 7, filters: { label: ['a'] }, auth: { username: 'u', password: 'p' } });
  const bad = await request('GET', '/query?filters=%7Bnope');
  assert.equal(bad.status, 400);
  assert.match(JSON.parse(bad.body).message, /^invalid filter/);
  const badInt = await request('GET', '/query?n=abc');
  assert.equal(badInt.status, 400);
});

test('JSON bodies: echoed when valid, 400 when not', async () => {
  const ok = await request('POST', '/echo', '{"a":[1,2]}', { 'Content-Type': 'application/json' });
  assert.equal(ok.status, 201);
  assert.deepEqual(JSON.parse(ok.body), { a: [1, 2] });
  const bad = await request('POST', '/echo', '{"a":', { 'Content-Type': 'application/json' });
  assert.equal(bad.status, 400);
  assert.match(JSON.parse(bad.body).message, /^invalid JSON/);
  const empty = await request('POST', '/echo');
  assert.equal(empty.status, 400);
});

test('an error after a progress stream started travels in-band', async () => {
  const r = await request('POST', '/stream');
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'] ?? '', /^application\/json/);
  const lines = r.body.split('\r\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lines, [
    { status: 'Pulling from library/busybox', id: 'latest' },
    { status: 'Downloading', id: 'abc', progressDetail: { current: 10, total: 100 } },
    { errorDetail: { message: 'manifest unknown' }, error: 'manifest unknown' },
  ]);
});

test('a client that goes away aborts the stream and stops writes', async () => {
  await new Promise<void>((resolve, reject) => {
    const req = http.request({ socketPath, method: 'POST', path: '/slow' }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => {});
    req.on('close', () => resolve());
    req.end();
    setTimeout(() => reject(new Error('no first message')), 5000).unref();
  });
  assert.equal(await aborted, 'closed=true');
});
