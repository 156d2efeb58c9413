import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError, conflict, invalidArgument, notFound, unavailable } from '../../src/errors.js';
import { errorReply } from '../../src/api/errors.js';

test('BerthError codes map to docker status codes', () => {
  assert.deepEqual(errorReply(notFound('No such image: x')), { status: 404, message: 'No such image: x', unexpected: false });
  assert.equal(errorReply(conflict('in use')).status, 409);
  assert.equal(errorReply(invalidArgument('bad')).status, 400);
  assert.equal(errorReply(unavailable('registry down')).status, 503);
  assert.equal(errorReply(new BerthError('unauthorized', 'denied')).status, 401);
  assert.equal(errorReply(new BerthError('forbidden', 'no')).status, 403);
  assert.equal(errorReply(new BerthError('not_modified', 'already started')).status, 304);
  assert.equal(errorReply(new BerthError('not_implemented', 'later')).status, 501);
});

test('anything else is a 500 with its message, flagged unexpected', () => {
  assert.deepEqual(errorReply(new TypeError('x is undefined')), { status: 500, message: 'x is undefined', unexpected: true });
  assert.deepEqual(errorReply('plain string'), { status: 500, message: 'plain string', unexpected: true });
});
