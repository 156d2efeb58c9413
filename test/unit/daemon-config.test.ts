import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  finalizeDaemonConfig, mergeDaemonOptions, normalizeMirror, parseDaemonJson, resolveDaemonConfig, unixSocketPath,
  validateInsecureRegistry,
} from '../../src/daemon/config.js';
import { loadDaemonConfig, parseDaemonArgs } from '../../src/daemon/main.js';

const silent = { out: () => {}, err: () => {} };

test('defaults follow dockerd with berth paths', () => {
  const c = finalizeDaemonConfig({});
  assert.deepEqual(c.hosts, ['unix:///run/berth/berth.sock']);
  assert.equal(c.dataRoot, '/var/lib/berth');
  assert.equal(c.execRoot, '/run/berth');
  assert.equal(c.pidfile, '/run/berth/berthd.pid');
  assert.equal(c.defaultRuntime, 'crun');
  assert.equal(c.logLevel, 'info');
  assert.equal(c.liveRestore, true);
  assert.equal(c.group, 'root');
});

test('the pidfile follows the exec root unless given', () => {
  assert.equal(finalizeDaemonConfig({ execRoot: '/tmp/x' }).pidfile, '/tmp/x/berthd.pid');
  assert.equal(finalizeDaemonConfig({ execRoot: '/tmp/x', pidfile: '/tmp/p.pid' }).pidfile, '/tmp/p.pid');
});

test('flags parse with dockerd names, repeatable ones collected', () => {
  const args = parseDaemonArgs(
    ['-H', 'unix:///tmp/a.sock', '--host', 'unix:///tmp/b.sock', '--data-root', '/d', '--registry-mirror', 'http://m1',
      '--registry-mirror', 'https://m2/', '--insecure-registry', '127.0.0.1:5000', '-l', 'debug', '--live-restore', '-G', 'adm'],
    silent,
  );
  assert.ok(args);
  assert.deepEqual(args.options, {
    hosts: ['unix:///tmp/a.sock', 'unix:///tmp/b.sock'],
    dataRoot: '/d',
    registryMirrors: ['http://m1', 'https://m2/'],
    insecureRegistries: ['127.0.0.1:5000'],
    logLevel: 'debug',
    liveRestore: true,
    group: 'adm',
  });
  assert.equal(args.configFile, '/etc/berth/daemon.json');
  assert.equal(args.configFileExplicit, false);
  assert.equal(parseDaemonArgs(['--config-file', '/x.json'], silent)?.configFileExplicit, true);
});

test('unknown flags are refused', () => {
  assert.throws(() => parseDaemonArgs(['--bogus'], silent));
});

test('daemon.json with dockerd keys', () => {
  const o = parseDaemonJson(JSON.stringify({
    hosts: ['unix:///tmp/s.sock'], 'data-root': '/d', 'exec-root': '/e', 'registry-mirrors': ['http://m'],
    'insecure-registries': ['10.0.0.0/8'], 'log-level': 'warn', pidfile: '/p', 'default-runtime': 'runc',
    'live-restore': true, group: 'docker',
  }));
  assert.deepEqual(o, {
    hosts: ['unix:///tmp/s.sock'], dataRoot: '/d', execRoot: '/e', registryMirrors: ['http://m'],
    insecureRegistries: ['10.0.0.0/8'], logLevel: 'warn', pidfile: '/p', defaultRuntime: 'runc', liveRestore: true, group: 'docker',
  });
});

test('daemon.json: unknown keys and wrong types are errors', () => {
  assert.throws(() => parseDaemonJson('{"data-root":"/d","storage-driver":"x","fixed-cidr":"y"}'),
    /the following directives don't match any configuration option: storage-driver, fixed-cidr/);
  assert.throws(() => parseDaemonJson('{"hosts":"unix:///x"}'), /hosts must be a list of strings/);
  assert.throws(() => parseDaemonJson('{"live-restore":"yes"}'), /live-restore must be a boolean/);
  assert.throws(() => parseDaemonJson('{"data-root":'), /invalid JSON/);
  assert.throws(() => parseDaemonJson('[]'), /JSON object/);
  assert.deepEqual(parseDaemonJson(''), {});
});

test('a directive in both places is refused with every conflict listed', () => {
  assert.throws(
    () => mergeDaemonOptions({ dataRoot: '/a', hosts: ['unix:///x'], logLevel: 'info' }, { dataRoot: '/b', hosts: ['unix:///y', 'unix:///z'] }),
    (err: unknown) =>
      err instanceof Error &&
      err.message ===
        'the following directives are specified both as a flag and in the configuration file: ' +
          'hosts: (from flag: [unix:///x], from file: [unix:///y unix:///z]), data-root: (from flag: /a, from file: /b)',
  );
  assert.deepEqual(mergeDaemonOptions({ dataRoot: '/a' }, { execRoot: '/e' }), { dataRoot: '/a', execRoot: '/e' });
});

test('resolve names the file in its errors', () => {
  assert.throws(
    () => resolveDaemonConfig({ dataRoot: '/a' }, { path: '/etc/berth/daemon.json', text: '{"data-root":"/b"}' }),
    /^BerthError: unable to configure the daemon with file \/etc\/berth\/daemon.json: the following directives are specified both/,
  );
  const c = resolveDaemonConfig({ dataRoot: '/a' }, { path: 'f', text: '{"exec-root":"/e"}' });
  assert.equal(c.dataRoot, '/a');
  assert.equal(c.execRoot, '/e');
});

test('a missing config file is fine at the default path, an error when given explicitly', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-cfg-'));
  try {
    const missing = path.join(dir, 'none.json');
    assert.equal(loadDaemonConfig({ options: {}, configFile: missing, configFileExplicit: false }).dataRoot, '/var/lib/berth');
    assert.throws(() => loadDaemonConfig({ options: {}, configFile: missing, configFileExplicit: true }), /unable to configure the daemon with file/);
    const file = path.join(dir, 'daemon.json');
    writeFileSync(file, '{"data-root":"/from-file"}');
    assert.equal(loadDaemonConfig({ options: {}, configFile: file, configFileExplicit: true }).dataRoot, '/from-file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hosts: unix sockets only, tcp refused with a reason', () => {
  assert.equal(unixSocketPath('unix:///run/x.sock'), '/run/x.sock');
  assert.equal(unixSocketPath('unix://'), '/run/berth/berth.sock');
  assert.throws(() => unixSocketPath('tcp://0.0.0.0:2375'), /TLS/);
  assert.throws(() => unixSocketPath('fd://'), /unix sockets only/);
  assert.throws(() => unixSocketPath('/run/x.sock'), /expected unix:\/\/\/path/);
  assert.throws(() => unixSocketPath('unix://relative.sock'), /absolute/);
  assert.throws(() => finalizeDaemonConfig({ hosts: ['tcp://127.0.0.1:2375'] }), /TLS/);
});

test('mirrors are validated and end with a slash; insecure registries are not URLs', () => {
  assert.equal(normalizeMirror('http://127.0.0.1:5000'), 'http://127.0.0.1:5000/');
  assert.equal(normalizeMirror('https://mirror.example/'), 'https://mirror.example/');
  assert.throws(() => normalizeMirror('127.0.0.1:5000'), /invalid mirror/);
  assert.throws(() => normalizeMirror('ftp://x'), /unsupported scheme/);
  assert.throws(() => normalizeMirror('http://u:p@x'), /username/);
  assert.equal(validateInsecureRegistry('127.0.0.1:5000'), '127.0.0.1:5000');
  assert.equal(validateInsecureRegistry('10.0.0.0/8'), '10.0.0.0/8');
  assert.throws(() => validateInsecureRegistry('http://127.0.0.1:5000'), /should not contain/);
});

test('log levels are dockerd levels', () => {
  assert.equal(finalizeDaemonConfig({ logLevel: 'fatal' }).logLevel, 'fatal');
  assert.throws(() => finalizeDaemonConfig({ logLevel: 'verbose' as 'info' }), /unable to parse logging level: verbose/);
});
