import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  TokenCache,
  basicAuthorization,
  credentialKey,
  parseTokenResponse,
  parseWwwAuthenticate,
  repositoryScope,
  tokenRequestUrl,
} from '../../src/registry/auth.js';
import { describeRegistryFailure, errorCodeForStatus, formatRegistryErrors, parseRegistryErrors } from '../../src/registry/registry-errors.js';

describe('parseWwwAuthenticate', () => {
  it('reads Docker Hub\'s bearer challenge', () => {
    const h = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"';
    assert.deepEqual(parseWwwAuthenticate(h), [
      {
        scheme: 'bearer',
        params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' },
      },
    ]);
  });
  it('reads basic challenges and is case-insensitive on scheme and keys', () => {
    assert.deepEqual(parseWwwAuthenticate('Basic realm="basic-realm"'), [{ scheme: 'basic', params: { realm: 'basic-realm' } }]);
    assert.deepEqual(parseWwwAuthenticate('BASIC Realm=registry'), [{ scheme: 'basic', params: { realm: 'registry' } }]);
  });
  it('splits several challenges and keeps commas inside quotes', () => {
    const h = 'Basic realm="a, b", Bearer realm="https://t/token", service="s", scope="repository:x:pull,push" , error="insufficient_scope"';
    const out = parseWwwAuthenticate(h);
    assert.equal(out.length, 2);
    assert.deepEqual(out[0], { scheme: 'basic', params: { realm: 'a, b' } });
    assert.deepEqual(out[1], {
      scheme: 'bearer',
      params: { realm: 'https://t/token', service: 's', scope: 'repository:x:pull,push', error: 'insufficient_scope' },
    });
  });
  it('handles escapes and garbage without looping', () => {
    assert.deepEqual(parseWwwAuthenticate('Bearer realm="a\\"b"'), [{ scheme: 'bearer', params: { realm: 'a"b' } }]);
    assert.deepEqual(parseWwwAuthenticate(''), []);
    assert.deepEqual(parseWwwAuthenticate(', ;;'), []);
    assert.ok(Array.isArray(parseWwwAuthenticate('=x, ="y')));
  });
});

describe('token protocol helpers', () => {
  it('builds scopes and token URLs', () => {
    assert.equal(repositoryScope('library/busybox', ['pull', 'push']), 'repository:library/busybox:pull,push');
    const u = tokenRequestUrl('https://auth.example/token?x=1', 'registry.example', ['repository:a:pull', 'repository:b:pull']);
    assert.equal(u.searchParams.get('x'), '1');
    assert.equal(u.searchParams.get('service'), 'registry.example');
    assert.deepEqual(u.searchParams.getAll('scope'), ['repository:a:pull', 'repository:b:pull']);
  });
  it('reads token or access_token with a 60 s minimum lifetime', () => {
    assert.deepEqual(parseTokenResponse('{"token":"t1","expires_in":300}'), { token: 't1', expiresIn: 300 });
    assert.equal(parseTokenResponse('{"access_token":"t2"}').token, 't2');
    assert.equal(parseTokenResponse('{"token":"t3","expires_in":5}').expiresIn, 60);
    assert.equal(parseTokenResponse('{"token":"t","refresh_token":"r"}').refreshToken, 'r');
    assert.throws(() => parseTokenResponse('{}'), /no token/);
    assert.throws(() => parseTokenResponse('<html>'), /not JSON/);
  });
  it('encodes basic credentials', () => {
    assert.equal(basicAuthorization('user', 'p:w'), `Basic ${Buffer.from('user:p:w').toString('base64')}`);
  });
  it('keys credentials so users never share tokens', () => {
    assert.equal(credentialKey(undefined), 'anonymous');
    assert.equal(credentialKey({}), 'anonymous');
    assert.notEqual(credentialKey({ username: 'a', password: '1' }), credentialKey({ username: 'a', password: '2' }));
    assert.equal(credentialKey({ username: 'a', password: '1' }), credentialKey({ username: 'a', password: '1', serveraddress: 'x' }));
  });
});

describe('TokenCache', () => {
  it('returns tokens until shortly before expiry, per origin, credentials and scope', () => {
    let now = 1_000_000;
    const cache = new TokenCache(() => now);
    cache.set('https://r', 'anon', 'repository:a:pull', { token: 'tok', expiresIn: 60 });
    assert.equal(cache.get('https://r', 'anon', 'repository:a:pull'), 'tok');
    assert.equal(cache.get('https://r', 'anon', 'repository:a:pull,push'), undefined);
    assert.equal(cache.get('https://r', 'alice', 'repository:a:pull'), undefined);
    assert.equal(cache.get('https://other', 'anon', 'repository:a:pull'), undefined);
    now += 49_000;
    assert.equal(cache.get('https://r', 'anon', 'repository:a:pull'), 'tok');
    now += 2_000;
    assert.equal(cache.get('https://r', 'anon', 'repository:a:pull'), undefined);
  });
});

describe('registry error bodies', () => {
  it('renders errcode JSON as docker does', () => {
    const body = '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}';
    assert.equal(formatRegistryErrors(parseRegistryErrors(body)), 'manifest unknown: manifest unknown');
    const two = '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"},{"code":"DENIED","message":"no"}]}';
    assert.equal(formatRegistryErrors(parseRegistryErrors(two)), 'unauthorized: authentication required; denied: no');
  });
  it('reads token-server style bodies and falls back to the status', () => {
    assert.equal(describeRegistryFailure(401, '{"details":"incorrect username or password"}').text, 'unknown: incorrect username or password');
    assert.equal(describeRegistryFailure(502, '<html>bad gateway</html>').text, 'unexpected status 502 Bad Gateway');
  });
  it('maps statuses to error codes', () => {
    assert.equal(errorCodeForStatus(401), 'unauthorized');
    assert.equal(errorCodeForStatus(403), 'forbidden');
    assert.equal(errorCodeForStatus(404), 'not_found');
    assert.equal(errorCodeForStatus(503), 'unavailable');
    assert.equal(errorCodeForStatus(418), 'internal');
  });
});

it('expandAuthField decodes the base64 auth field only when no username is given', async () => {
  const { expandAuthField } = await import('../../src/registry/auth.js');
  const auth = Buffer.from('alice:s3:cret').toString('base64');
  assert.deepEqual(expandAuthField({ auth }), { auth, username: 'alice', password: 's3:cret' });
  assert.deepEqual(expandAuthField({ auth, username: 'bob', password: 'x' }), { auth, username: 'bob', password: 'x' });
});
