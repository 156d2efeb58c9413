import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/errors.js';
import { API_VERSION, compareVersions, MIN_API_VERSION, negotiateVersion, splitVersionPrefix } from '../../src/api/version.js';

test('advertises 1.50 and accepts down to 1.24', () => {
  assert.equal(API_VERSION, '1.50');
  assert.equal(MIN_API_VERSION, '1.24');
});

test('splits a /vX.Y prefix off the path', () => {
  assert.deepEqual(splitVersionPrefix('/v1.50/images/json'), { version: '1.50', path: '/images/json' });
  assert.deepEqual(splitVersionPrefix('/v1.41/_ping'), { version: '1.41', path: '/_ping' });
  assert.deepEqual(splitVersionPrefix('/images/json'), { version: undefined, path: '/images/json' });
  // Not a version: an image name segment that starts with v.
  assert.deepEqual(splitVersionPrefix('/volumes/v1'), { version: undefined, path: '/volumes/v1' });
  assert.deepEqual(splitVersionPrefix('/vabc/x'), { version: undefined, path: '/vabc/x' });
});

test('compares versions numerically', () => {
  assert.equal(compareVersions('1.9', '1.10'), -1);
  assert.equal(compareVersions('1.50', '1.50'), 0);
  assert.equal(compareVersions('1.50.0', '1.50'), 0);
  assert.equal(compareVersions('2.0', '1.99'), 1);
});

test('unversioned requests are served at 1.50, versioned ones at their version', () => {
  assert.equal(negotiateVersion(undefined), '1.50');
  assert.equal(negotiateVersion('1.41'), '1.41');
  assert.equal(negotiateVersion('1.24'), '1.24');
  assert.equal(negotiateVersion('1.50'), '1.50');
});

test('too new and too old versions get docker messages and status 400', () => {
  assert.throws(
    () => negotiateVersion('1.99'),
    (err: unknown) =>
      err instanceof BerthError &&
      err.httpStatus === 400 &&
      err.message === 'client version 1.99 is too new. Maximum supported API version is 1.50',
  );
  assert.throws(
    () => negotiateVersion('1.12'),
    (err: unknown) =>
      err instanceof BerthError &&
      err.httpStatus === 400 &&
      err.message ===
        'client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version',
  );
});
