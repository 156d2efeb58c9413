import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, formatLogLine, isLogLevel } from '../../src/daemon/log.js';

test('lines look like logrus text output', () => {
  const line = formatLogLine('info', 'API listen on /run/berth/berth.sock', undefined, new Date('2026-01-02T03:04:05.678Z'));
  assert.equal(line, 'time="2026-01-02T03:04:05.678000000Z" level=info msg="API listen on /run/berth/berth.sock"\n');
});

test('fields are appended, quoted only when needed', () => {
  const line = formatLogLine('warn', 'x', { pid: 12, path: '/a/b', reason: 'two words', skip: undefined }, new Date(0));
  assert.match(line, / pid=12 path=\/a\/b reason="two words"\n$/);
  assert.doesNotMatch(line, /skip/);
});

test('messages below the level are dropped', () => {
  const lines: string[] = [];
  const logger = createLogger('warn', (l) => lines.push(l));
  logger.debug('d');
  logger.info('i');
  logger.warn('w');
  logger.error('e');
  assert.equal(lines.length, 2);
  assert.match(lines[0] ?? '', /level=warn msg="w"/);
  logger.level = 'debug';
  logger.debug('d2');
  assert.equal(lines.length, 3);
  assert.equal(logger.enabled('debug'), true);
});

test('only dockerd levels are levels', () => {
  assert.equal(isLogLevel('fatal'), true);
  assert.equal(isLogLevel('trace'), false);
});
