import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LOG_CONFIG, logPolicy, parseLogOpts, parseLogSize, resolveLogConfig, validateLogConfig } from '../../src/engine/containers/log-config.js';
import { conmonLogSizeMax } from '../../src/engine/containers/log-rotation.js';

describe('log config', () => {
  test('sizes are binary units as in Docker', () => {
    assert.equal(parseLogSize('10k'), 10 * 1024);
    assert.equal(parseLogSize('10m'), 10 * 1024 * 1024);
    assert.equal(parseLogSize('1.5MiB'), 1.5 * 1024 * 1024);
    assert.equal(parseLogSize('123'), 123);
    assert.throws(() => parseLogSize('abc'), /invalid size: 'abc'/);
  });

  test('the daemon default fills in an empty type, and its options apply to its own driver only', () => {
    const daemon = { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } };
    assert.deepEqual(resolveLogConfig({ Type: '', Config: {} }, daemon), daemon);
    assert.deepEqual(resolveLogConfig({ Type: 'json-file', Config: { 'max-file': '5' } }, daemon), { Type: 'json-file', Config: { 'max-file': '5', 'max-size': '10m' } });
    assert.deepEqual(resolveLogConfig({ Type: 'local', Config: {} }, daemon), { Type: 'local', Config: {} });
    assert.deepEqual(resolveLogConfig(undefined, DEFAULT_LOG_CONFIG), { Type: 'json-file', Config: {} });
  });

  test('rotation: json-file unlimited by default, local 20m x 5, none keeps nothing', () => {
    assert.deepEqual(logPolicy({ Type: 'json-file', Config: {} }), { driver: 'json-file', maxFile: 1 });
    assert.deepEqual(logPolicy({ Type: 'json-file', Config: { 'max-size': '10k', 'max-file': '3' } }), { driver: 'json-file', maxSize: 10240, maxFile: 3 });
    assert.deepEqual(logPolicy({ Type: 'local', Config: {} }), { driver: 'local', maxSize: 20 * 1024 * 1024, maxFile: 5 });
    assert.deepEqual(logPolicy({ Type: 'json-file', Config: { 'max-size': '-1' } }), { driver: 'json-file', maxFile: 1 });
    assert.equal(logPolicy({ Type: 'none', Config: {} }).driver, 'none');
    assert.throws(() => logPolicy({ Type: 'json-file', Config: { 'max-file': '0' } }), /failed to initialize logging driver: max-file cannot be less than 1/);
    assert.throws(() => logPolicy({ Type: 'json-file', Config: { 'max-size': '0' } }), /max-size must be a positive number/);
    assert.throws(() => logPolicy({ Type: 'local', Config: { 'max-size': 'abc' } }), /invalid value for max-size: abc: invalid size: 'abc'/);
    // conmon's own limit sits above what berthd rotates at.
    assert.ok(conmonLogSizeMax({ maxSize: 10240, maxFile: 3 }) > 10240 * 3);
  });

  test('create-time checks use dockerd\'s messages', () => {
    assert.throws(() => validateLogConfig({ Type: 'syslogx', Config: {} }), /error looking up logging plugin syslogx: plugin "syslogx" not found/);
    assert.throws(() => validateLogConfig({ Type: 'json-file', Config: { colour: 'red' } }), /unknown log opt 'colour' for json-file log driver/);
    assert.throws(() => validateLogConfig({ Type: 'local', Config: { tag: 'x' } }), /unknown log opt 'tag' for log driver local/);
    assert.throws(() => validateLogConfig({ Type: 'json-file', Config: { mode: 'weird' } }), /logger: logging mode not supported: weird/);
    validateLogConfig({ Type: 'none', Config: { anything: 'goes' } });
    validateLogConfig({ Type: 'json-file', Config: { 'max-size': 'abc', mode: 'non-blocking' } });
  });
});

describe('daemon log defaults', () => {
  test('--log-driver/--log-opt and daemon.json log-driver/log-opts set the containers\' default', async () => {
    const { resolveDaemonConfig } = await import('../../src/daemon/config.js');
    const fromFile = resolveDaemonConfig({}, { path: '/x/daemon.json', text: '{"log-driver":"local","log-opts":{"max-size":"5m","max-file":"2"}}' });
    assert.equal(fromFile.logDriver, 'local');
    assert.deepEqual(fromFile.logOpts, { 'max-size': '5m', 'max-file': '2' });
    const defaults = resolveDaemonConfig({}, { path: '/x/daemon.json', text: undefined });
    assert.equal(defaults.logDriver, 'json-file');
    assert.deepEqual(defaults.logOpts, {});
    assert.throws(() => resolveDaemonConfig({}, { path: '/x/daemon.json', text: '{"log-opts":{"max-size":5}}' }), /log-opts must be an object of strings/);
    assert.throws(() => resolveDaemonConfig({ logOpts: { 'max-size': '1m' } }, { path: '/x/daemon.json', text: '{"log-opts":{"max-size":"5m"}}' }), /log-opts: \(from flag: map\[max-size:1m\], from file: map\[max-size:5m\]\)/);
    assert.deepEqual(parseLogOpts(['max-size=10m', 'tag=a=b']), { 'max-size': '10m', tag: 'a=b' });
    assert.throws(() => parseLogOpts(['max-size']), /expected key=value/);
    assert.throws(() => resolveDaemonConfig({ logDriver: 'nosuch' }, { path: '/x/daemon.json', text: undefined }), /plugin "nosuch" not found/);
  });
});
