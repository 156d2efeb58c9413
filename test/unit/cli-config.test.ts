import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DockerConfig, INDEX_SERVER, authConfigKey } from '../../src/cli/docker-config.js';
import { encodeRegistryAuth } from '../../src/cli/api-client.js';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cfg-'));
}

test('auth is written as base64(user:pass), mode 0600, unknown keys kept', (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ psFormat: 'table {{.ID}}', auths: { 'other:1': { auth: 'eDp5' } } }));
  const cfg = DockerConfig.load(dir);
  cfg.setAuth('127.0.0.1:5000', { username: 'user', password: 'pa:ss' });
  cfg.save();
  const file = path.join(dir, 'config.json');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  assert.equal(doc['psFormat'], 'table {{.ID}}');
  assert.deepEqual(doc['auths'], { 'other:1': { auth: 'eDp5' }, '127.0.0.1:5000': { auth: Buffer.from('user:pa:ss').toString('base64') } });
  const again = DockerConfig.load(dir);
  assert.deepEqual(again.authForDomain('127.0.0.1:5000'), { username: 'user', password: 'pa:ss', serveraddress: '127.0.0.1:5000' });
  assert.equal(again.removeAuth('127.0.0.1:5000'), true);
  assert.equal(again.removeAuth('127.0.0.1:5000'), false);
});

test('docker.io resolves to the v1 index key; legacy URL keys match by host', (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  assert.equal(authConfigKey('docker.io'), INDEX_SERVER);
  assert.equal(authConfigKey('127.0.0.1:5000'), '127.0.0.1:5000');
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({ auths: { [INDEX_SERVER]: { auth: Buffer.from('hub:pw').toString('base64') }, 'https://reg.example:5000/v2/': { auth: Buffer.from('a:b').toString('base64') } } }),
  );
  const cfg = DockerConfig.load(dir);
  assert.equal(cfg.authForDomain('docker.io').username, 'hub');
  assert.equal(cfg.authForDomain('reg.example:5000').password, 'b');
  assert.deepEqual(cfg.authForDomain('nowhere:1'), {});
});

test('credsStore warns once and falls back to the file', (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ credsStore: 'desktop', auths: { 'r:1': { auth: Buffer.from('u:p').toString('base64') } } }));
  const warnings: string[] = [];
  const cfg = DockerConfig.load(dir, (m) => warnings.push(m));
  assert.equal(cfg.authForDomain('r:1').username, 'u');
  cfg.authForDomain('r:1');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /credential helpers are not supported/);
});

test('X-Registry-Auth is base64url JSON in docker field order; anonymous is e30=', () => {
  assert.equal(encodeRegistryAuth(undefined), 'e30=');
  assert.equal(encodeRegistryAuth({}), 'e30=');
  const enc = encodeRegistryAuth({ serveraddress: 'r:1', password: 'p', username: 'u' });
  assert.equal(Buffer.from(enc, 'base64').toString(), '{"username":"u","password":"p","serveraddress":"r:1"}');
});
