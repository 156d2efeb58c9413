import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goDurationString, goQuoteHealthConfig, goQuoteRune } from '../../src/engine/build/go-format.js';

test('goDurationString prints as Go time.Duration.String', () => {
  assert.equal(goDurationString(0), '0s');
  assert.equal(goDurationString(30e9), '30s');
  assert.equal(goDurationString(90e9), '1m30s');
  assert.equal(goDurationString(3600e9), '1h0m0s');
  assert.equal(goDurationString(1.5e9), '1.5s');
  assert.equal(goDurationString(500e6), '500ms');
  assert.equal(goDurationString(1500), '1.5µs');
  assert.equal(goDurationString(999), '999ns');
  assert.equal(goDurationString(3723e9), '1h2m3s');
});

test('goQuoteRune prints ints as Go %q does', () => {
  assert.equal(goQuoteRune(0), "'\\x00'");
  assert.equal(goQuoteRune(3), "'\\x03'");
  assert.equal(goQuoteRune(10), "'\\n'");
  assert.equal(goQuoteRune(65), "'A'");
  assert.equal(goQuoteRune(39), "'\\''");
});

test('goQuoteHealthConfig matches the classic builder history text', () => {
  assert.equal(
    goQuoteHealthConfig({ Test: ['CMD-SHELL', 'curl -f http://x/ || exit 1'], Interval: 30e9, Retries: 3 }),
    `&{["CMD-SHELL" "curl -f http://x/ || exit 1"] "30s" "0s" "0s" "0s" '\\x03'}`,
  );
  assert.equal(goQuoteHealthConfig({ Test: ['NONE'] }), `&{["NONE"] "0s" "0s" "0s" "0s" '\\x00'}`);
});
