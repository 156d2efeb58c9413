import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attachContentType, attachStreamOptions, MULTIPLEXED_STREAM, RAW_STREAM } from '../../src/api/hijack.js';

test('a TTY is always a raw stream', () => {
  assert.equal(attachContentType('1.50', true), RAW_STREAM);
  assert.equal(attachContentType('1.41', true), RAW_STREAM);
});

test('without a TTY, API 1.42 and later say multiplexed-stream; older ones get raw-stream', () => {
  assert.equal(attachContentType('1.42', false), MULTIPLEXED_STREAM);
  assert.equal(attachContentType('1.50', false), MULTIPLEXED_STREAM);
  assert.equal(attachContentType('2.0', false), MULTIPLEXED_STREAM);
  assert.equal(attachContentType('1.41', false), RAW_STREAM);
  assert.equal(attachContentType('1.24', false), RAW_STREAM);
});

test('attach options frame the output exactly when there is no TTY', () => {
  assert.deepEqual(attachStreamOptions('1.41', false), { contentType: RAW_STREAM, multiplexed: true });
  assert.deepEqual(attachStreamOptions('1.50', false), { contentType: MULTIPLEXED_STREAM, multiplexed: true });
  assert.deepEqual(attachStreamOptions('1.50', true), { contentType: RAW_STREAM, multiplexed: false });
});
