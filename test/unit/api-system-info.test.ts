import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Engine } from '../../src/engine/engine.js';
import { buildInfo } from '../../src/engine/system/build-info.js';
import { loadDaemonId } from '../../src/engine/system/daemon-id.js';
import { goArch, parseOsRelease, parseToolVersion } from '../../src/engine/system/host.js';
import { collectSystemInfo, collectVersion, registryServiceConfig } from '../../src/engine/system/system-info.js';

function fakeEngine(dataRoot: string): Engine {
  return {
    config: { dataRoot, execRoot: '/run/x', registryMirrors: ['http://127.0.0.1:5000/'], insecureRegistries: ['reg.local:5000', '10.1.0.0/16'], defaultRuntime: 'crun', logLevel: 'info' },
    images: { count: () => 7, diskUsage: async () => 0 },
    containers: { count: () => ({ total: 3, running: 1, paused: 0, stopped: 2 }) },
    close: async () => {},
  } as unknown as Engine;
}

test('os-release parsing handles quotes', () => {
  const f = parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\nID=debian\n# comment\n');
  assert.equal(f['PRETTY_NAME'], 'Debian GNU/Linux 12 (bookworm)');
  assert.equal(f['VERSION_ID'], '12');
  assert.equal(f['ID'], 'debian');
});

test('runtime --version output parsing', () => {
  assert.deepEqual(parseToolVersion('crun version 1.8.1\ncommit: f8a096be\nrundir: /run/crun\n'), { version: '1.8.1', commit: 'f8a096be' });
  assert.deepEqual(parseToolVersion('runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1\n'), { version: '1.1.5+ds1', commit: '1.1.5+ds1-1' });
});

test('Go architecture names', () => {
  assert.equal(goArch('x64'), 'amd64');
  assert.equal(goArch('arm64'), 'arm64');
});

test('registry config: mirrors on docker.io, insecure CIDRs and index names', () => {
  const rc = registryServiceConfig(['http://m/'], ['reg.local:5000', '10.1.0.0/16']);
  assert.deepEqual(rc.InsecureRegistryCIDRs, ['::1/128', '127.0.0.0/8', '10.1.0.0/16']);
  assert.deepEqual(rc.IndexConfigs['docker.io'], { Name: 'docker.io', Mirrors: ['http://m/'], Secure: true, Official: true });
  assert.deepEqual(rc.IndexConfigs['reg.local:5000'], { Name: 'reg.local:5000', Mirrors: [], Secure: false, Official: false });
  assert.deepEqual(rc.Mirrors, ['http://m/']);
});

test('the daemon id is created once and kept', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-id-'));
  try {
    const a = await loadDaemonId(dir);
    assert.match(a, /^[0-9a-f-]{36}$/);
    assert.equal(await loadDaemonId(dir), a);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('info carries real host figures', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-info-'));
  try {
    const info = await collectSystemInfo(fakeEngine(dir), { id: 'abc', build: buildInfo(), liveRestore: true, debug: false });
    assert.equal(info.ID, 'abc');
    assert.equal(info.Images, 7);
    assert.equal(info.Containers, 3);
    assert.equal(info.ContainersRunning, 1);
    assert.equal(info.ContainersStopped, 2);
    assert.equal(info.DockerRootDir, dir);
    assert.equal(info.OSType, 'linux');
    assert.equal(info.Architecture, os.machine());
    assert.equal(info.NCPU, os.availableParallelism());
    assert.equal(info.MemTotal, os.totalmem());
    assert.equal(info.KernelVersion, os.release());
    assert.ok(info.OperatingSystem.length > 0);
    assert.ok(info.CgroupVersion === '1' || info.CgroupVersion === '2');
    assert.equal(info.Name, os.hostname());
    assert.equal(info.ServerVersion, buildInfo().version);
    assert.equal(info.IndexServerAddress, 'https://index.docker.io/v1/');
    assert.deepEqual(info.RegistryConfig.Mirrors, ['http://127.0.0.1:5000/']);
    for (const [name, rt] of Object.entries(info.Runtimes)) assert.ok(rt.path.endsWith(`/${name}`), name);
    assert.equal(info.DefaultRuntime, 'crun');
    assert.equal(info.Swarm.LocalNodeState, 'inactive');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('version reports the engine component and API range', async () => {
  const v = await collectVersion(fakeEngine('/tmp'), { id: 'abc', build: buildInfo(), liveRestore: true, debug: false });
  assert.equal(v.ApiVersion, '1.50');
  assert.equal(v.MinAPIVersion, '1.24');
  assert.equal(v.Os, 'linux');
  assert.equal(v.Components[0]?.Name, 'Engine');
  assert.equal(v.Components[0]?.Version, buildInfo().version);
  assert.equal(v.GoVersion, `node ${process.version}`);
});
