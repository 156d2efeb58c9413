import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/errors.js';
import {
  decodeRegistryAuth, decodeRegistryConfig, parseDockerBool, parseFilters, parseQueryInt,
} from '../../src/api/context.js';

const isBadRequest = (err: unknown): boolean => err instanceof BerthError && err.httpStatus === 400;

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64');
const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

test('filters: the set form and the legacy list form', () => {
  const current = parseFilters(JSON.stringify({ dangling: { true: true }, label: { 'a=b': true, c: true } }));
  assert.deepEqual(current.get('dangling'), ['true']);
  assert.deepEqual(current.get('label'), ['a=b', 'c']);
  const legacy = parseFilters(JSON.stringify({ reference: ['busybox', 'alpine:3'] }));
  assert.deepEqual(legacy.get('reference'), ['busybox', 'alpine:3']);
});

test('filters: absent, empty and null are no filters', () => {
  assert.equal(parseFilters(null).size, 0);
  assert.equal(parseFilters('').size, 0);
  assert.equal(parseFilters('{}').size, 0);
  assert.equal(parseFilters('null').size, 0);
});

test('filters: bad JSON or bad shapes are 400', () => {
  assert.throws(() => parseFilters('{"a":'), isBadRequest);
  assert.throws(() => parseFilters('["a"]'), isBadRequest);
  assert.throws(() => parseFilters('{"a":"b"}'), isBadRequest);
  assert.throws(() => parseFilters('{"a":[1]}'), isBadRequest);
  assert.throws(() => parseFilters('{"a":{"b":"yes"}}'), isBadRequest);
});

test("docker's bool query values", () => {
  for (const v of ['1', 'true', 'True', 'TRUE', 'yes', 'on']) assert.equal(parseDockerBool(v), true, v);
  for (const v of [null, '', '0', 'false', 'False', 'no', 'none', ' 0 ']) assert.equal(parseDockerBool(v), false, String(v));
});

test('integer query values', () => {
  assert.equal(parseQueryInt('t', '10'), 10);
  assert.equal(parseQueryInt('t', '-1'), -1);
  assert.equal(parseQueryInt('t', null, 5), 5);
  assert.equal(parseQueryInt('t', '', 5), 5);
  assert.equal(parseQueryInt('t', null), undefined);
  assert.throws(() => parseQueryInt('t', '1.5'), isBadRequest);
  assert.throws(() => parseQueryInt('t', 'ten'), isBadRequest);
  assert.throws(() => parseQueryInt('t', '99999999999999999999'), isBadRequest);
});

test('X-Registry-Auth: URL-safe and standard base64 decode to the same credentials', () => {
  // '?>' encodes to characters that differ between the two alphabets.
  const auth = { username: 'u?>', password: 'p>>?', serveraddress: 'registry.local:5000' };
  assert.deepEqual(decodeRegistryAuth(b64url(auth)), auth);
  assert.deepEqual(decodeRegistryAuth(b64(auth)), auth);
  assert.notEqual(b64url(auth), b64(auth));
});

test('X-Registry-Auth: empty forms are no credentials', () => {
  assert.equal(decodeRegistryAuth(undefined), undefined);
  assert.equal(decodeRegistryAuth(''), undefined);
  assert.equal(decodeRegistryAuth('e30='), undefined);
  assert.equal(decodeRegistryAuth('e30'), undefined);
  assert.equal(decodeRegistryAuth(b64({ username: '', password: '' })), undefined);
  assert.equal(decodeRegistryAuth(b64(null)), undefined);
});

test('X-Registry-Auth: keys match case-insensitively, unknown keys are ignored', () => {
  assert.deepEqual(decodeRegistryAuth(b64({ Username: 'a', Password: 'b', IdentityToken: 't', extra: 1 })), {
    username: 'a', password: 'b', identitytoken: 't',
  });
});

test('X-Registry-Auth: malformed is 400', () => {
  assert.throws(() => decodeRegistryAuth(Buffer.from('{not json').toString('base64')), isBadRequest);
  assert.throws(() => decodeRegistryAuth(b64(['a'])), isBadRequest);
  assert.throws(() => decodeRegistryAuth(b64({ username: 5 })), isBadRequest);
});

test('X-Registry-Config maps servers to credentials', () => {
  const cfg = decodeRegistryConfig(b64({ 'registry.local:5000': { username: 'a', password: 'b' }, 'empty.io': {} }));
  assert.deepEqual(cfg, { 'registry.local:5000': { username: 'a', password: 'b' } });
  assert.deepEqual(decodeRegistryConfig(undefined), {});
  assert.throws(() => decodeRegistryConfig(b64('x')), isBadRequest);
});
