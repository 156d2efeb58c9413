import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePattern, Router } from '../../src/api/router.js';
import type { Handler } from '../../src/api/context.js';

function named(name: string): Handler & { routeName: string } {
  return Object.assign((() => {}) as Handler, { routeName: name });
}

function routeName(router: Router, method: string, path: string): string | undefined {
  return (router.match(method, path)?.handler as (Handler & { routeName?: string }) | undefined)?.routeName;
}

function imageRouter(): Router {
  const r = new Router();
  r.get('/images/json', named('list'));
  r.post('/images/create', named('create'));
  r.get('/images/{name:.*}/json', named('inspect'));
  r.post('/images/{name:.*}/push', named('push'));
  r.post('/images/{name:.*}/tag', named('tag'));
  r.get('/images/{name:.*}/history', named('history'));
  r.delete('/images/{name:.*}', named('delete'));
  r.get('/containers/{id}/json', named('container'));
  return r;
}

test('greedy image names keep their slashes, tags and digests', () => {
  const r = imageRouter();
  const m = r.match('GET', '/images/registry.local:5000/team/app:1.2/json');
  assert.equal(m?.params['name'], 'registry.local:5000/team/app:1.2');
  assert.equal(routeName(r, 'POST', '/images/a/b/c/push'), 'push');
  assert.equal(r.match('POST', '/images/a/b/c/push')?.params['name'], 'a/b/c');
  assert.equal(r.match('POST', '/images/busybox/tag')?.params['name'], 'busybox');
  assert.equal(r.match('GET', '/images/x/y/history')?.params['name'], 'x/y');
  const digest = 'busybox@sha256:' + 'a'.repeat(64);
  assert.equal(r.match('DELETE', `/images/library/${digest}`)?.params['name'], `library/${digest}`);
});

test('literal routes win over greedy patterns', () => {
  const r = imageRouter();
  assert.equal(routeName(r, 'GET', '/images/json'), 'list');
  assert.equal(routeName(r, 'POST', '/images/create'), 'create');
  // An image literally called "json" is still reachable through the inspect pattern.
  assert.equal(r.match('GET', '/images/json/json')?.params['name'], 'json');
});

test('a plain parameter matches one segment only', () => {
  const r = imageRouter();
  assert.equal(r.match('GET', '/containers/abc/json')?.params['id'], 'abc');
  assert.equal(r.match('GET', '/containers/a/b/json'), undefined);
});

test('unknown paths, wrong methods and empty parameters do not match', () => {
  const r = imageRouter();
  assert.equal(r.match('GET', '/nope'), undefined);
  assert.equal(r.match('PUT', '/images/json'), undefined);
  assert.equal(r.match('DELETE', '/images/'), undefined);
  assert.equal(r.match('GET', '/images//json'), undefined);
});

test('HEAD falls back to GET unless HEAD is declared', () => {
  const r = new Router();
  r.get('/_ping', named('get'));
  r.get('/info', named('info'));
  r.head('/_ping', named('head'));
  assert.equal(routeName(r, 'HEAD', '/_ping'), 'head');
  assert.equal(routeName(r, 'HEAD', '/info'), 'info');
  assert.equal(routeName(r, 'head', '/info'), 'info');
});

test('patterns with groups in their expression keep parameter positions', () => {
  const { regex, names } = compilePattern('/x/{a:(foo|bar)}/{b}');
  assert.deepEqual(names, ['a', 'b']);
  const m = regex.exec('/x/bar/baz');
  assert.equal(m?.[1], 'bar');
  assert.equal(m?.[2], 'baz');
  assert.equal(regex.exec('/x/qux/baz'), null);
});

test('literal characters in patterns are not regular expression syntax', () => {
  const r = new Router();
  r.get('/a.b/{id}', named('dot'));
  assert.equal(r.match('GET', '/aXb/1'), undefined);
  assert.equal(routeName(r, 'GET', '/a.b/1'), 'dot');
});

test('declaring the same literal route twice is a programming error', () => {
  const r = new Router();
  r.get('/x', named('1'));
  assert.throws(() => r.get('/x', named('2')), /declared twice/);
});
