import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetworkDriver } from '../../src/runtime/network/driver.js';
import type { BridgeNetwork, Endpoint, NetworkDriver } from '../../src/runtime/network/types.js';

// Real kernel: bridges, namespaces and nftables of a private instance tag on a subnet of 10.201.0.0/16.
const tag = randomBytes(3).toString('hex');
const instance = `t${tag}`;
const third = 100 + (randomBytes(1)[0] ?? 0) % 100;
let runDir = '';
let driver: NetworkDriver;
const servers: ChildProcess[] = [];
const logs: string[] = [];

const net: BridgeNetwork = {
  id: `${tag}${'0'.repeat(58)}`,
  bridge: `brt${tag}`,
  subnet: `10.201.${third}.0/24`,
  gateway: `10.201.${third}.1`,
  mtu: 1500,
  internal: false,
  masquerade: true,
  icc: true,
};

const endpoint = (n: number, ports: Endpoint['ports'] = []): Endpoint => ({
  containerId: `${tag}${String(n).repeat(58)}`,
  network: net,
  ifName: 'eth0',
  ip: `10.201.${third}.${n + 1}`,
  prefixLen: 24,
  mac: `02:42:0a:c9:${third.toString(16).padStart(2, '0')}:${(n + 1).toString(16).padStart(2, '0')}`,
  defaultRoute: true,
  ports,
});

const sh = (cmd: string, args: string[]): { code: number; out: string } => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
};

const ourLinks = (): string[] =>
  (JSON.parse(sh('ip', ['-j', 'link', 'show']).out) as Array<{ ifname: string; ifalias?: string }>)
    .filter((l) => l.ifalias === `berth:${instance}` || l.ifalias?.startsWith(`berth:${instance}:`))
    .map((l) => l.ifname);

const mountsUnder = async (dir: string): Promise<string[]> =>
  (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(dir));

/** A TCP server printing 'hi' inside a sandbox (node itself, entered with nsenter). */
function serveInside(sandbox: string, port: number): ChildProcess {
  const child = spawn('nsenter', [`--net=${sandbox}`, process.execPath, '-e', `require('net').createServer((s) => s.end('hi\\n')).listen(${port})`], {
    stdio: 'ignore',
  });
  servers.push(child);
  return child;
}

function fetchLine(host: string, port: number, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    let data = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve(`timeout:${data}`);
    }, timeoutMs);
    s.on('data', (b) => (data += b.toString()));
    s.on('error', (e) => {
      clearTimeout(timer);
      resolve(`error:${e.message}`);
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
  });
}

async function untilServing(host: string, port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await fetchLine(host, port, 1000)) === 'hi\n') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing served on ${host}:${port}`);
}

function hostAddress(): string {
  const ifaces = JSON.parse(sh('ip', ['-j', '-4', 'addr', 'show', 'scope', 'global']).out) as Array<{ ifname: string; addr_info: Array<{ local: string }> }>;
  const addr = ifaces.find((i) => !i.ifname.startsWith('br') && !i.ifname.startsWith('veth'))?.addr_info[0]?.local;
  assert.ok(addr, 'host has a global IPv4 address');
  return addr;
}

before(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'berth-netrt-'));
  driver = createNetworkDriver({ instance, runDir, log: (l, m) => logs.push(`${l} ${m}`) });
  await driver.reconcile({ networks: [], endpoints: [], sandboxes: [] });
});

after(async () => {
  for (const s of servers) if (s.exitCode === null) s.kill('SIGKILL');
  // Whatever a failed test left: a fresh driver's reconcile removes all of this instance.
  await createNetworkDriver({ instance, runDir, log: () => undefined }).reconcile({ networks: [], endpoints: [], sandboxes: [] });
  await rm(runDir, { recursive: true, force: true });
});

test('two sandboxes on a bridge reach each other; a published port answers on 127.0.0.1, the host address and by hairpin', async () => {
  await driver.ensureNetwork(net);
  await driver.ensureNetwork(net); // idempotent
  const hostPort = await driver.freeHostPort('tcp', '');
  const ep1 = endpoint(1);
  const ep2 = endpoint(2, [{ protocol: 'tcp', hostIp: '', hostPort, containerPort: 8080 }]);
  const [p1, p2] = await Promise.all([driver.createSandbox(ep1.containerId), driver.createSandbox(ep2.containerId)]);
  assert.equal(p1, join(runDir, 'netns', ep1.containerId));
  await Promise.all([driver.attach(p1, ep1), driver.attach(p2, ep2)]);
  assert.notEqual(await driver.freeHostPort('tcp', ''), hostPort, 'a published port is not handed out again');

  const inside = sh('nsenter', [`--net=${p1}`, 'ip', '-j', 'route', 'show', 'default']).out;
  assert.match(inside, new RegExp(`"gateway":"${net.gateway.replaceAll('.', '\\.')}"`));
  const ping = sh('nsenter', [`--net=${p1}`, 'busybox', 'ping', '-c1', '-W2', ep2.ip]);
  assert.equal(ping.code, 0, ping.out);

  serveInside(p2, 8080);
  await untilServing(ep2.ip, 8080);
  assert.equal(await fetchLine('127.0.0.1', hostPort), 'hi\n');
  const hostIp = hostAddress();
  assert.equal(await fetchLine(hostIp, hostPort), 'hi\n');
  const hairpin = sh('nsenter', [`--net=${p1}`, 'busybox', 'nc', '-w', '2', hostIp, String(hostPort)]);
  assert.equal(hairpin.out, 'hi\n');
  const ownPort = sh('nsenter', [`--net=${p2}`, 'busybox', 'nc', '-w', '2', hostIp, String(hostPort)]);
  assert.equal(ownPort.out, 'hi\n', 'a container reaches its own published port');

  await driver.detach(p2, ep2);
  assert.notEqual(await fetchLine('127.0.0.1', hostPort, 1000), 'hi\n');
  assert.notEqual(sh('nsenter', [`--net=${p1}`, 'busybox', 'ping', '-c1', '-W1', ep2.ip]).code, 0);
  const nft = sh('nft', ['list', 'map', 'ip', `berth_${instance}`, 'ports']).out;
  assert.doesNotMatch(nft, new RegExp(`\\b${hostPort}\\b`));

  await Promise.all([driver.removeSandbox(ep1.containerId), driver.removeSandbox(ep2.containerId)]);
  await driver.removeNetwork(net);
  await driver.removeNetwork(net); // no-op when gone
  assert.deepEqual(await mountsUnder(runDir), []);
  assert.notEqual(sh('nft', ['list', 'table', 'ip', `berth_${instance}`]).code, 0, 'the ip table is gone');
  // Host veths die with their namespace, asynchronously in the kernel.
  for (let i = 0; i < 100 && ourLinks().length; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(ourLinks(), []);
});

test('reconcile by a fresh driver removes what a crashed one left, and keeps what is live', async () => {
  const live: BridgeNetwork = { ...net, id: `${tag}${'1'.repeat(58)}`, bridge: `brl${tag}`, subnet: `10.201.${third}.128/25`, gateway: `10.201.${third}.129` };
  const stale: BridgeNetwork = { ...net, icc: false };
  await driver.ensureNetwork(stale);
  await driver.ensureNetwork(live);
  const ep = endpoint(3, [{ protocol: 'udp', hostIp: '127.0.0.1', hostPort: await driver.freeHostPort('udp', '127.0.0.1'), containerPort: 53 }]);
  const p = await driver.createSandbox(ep.containerId);
  await driver.attach(p, ep);
  assert.equal(ourLinks().length, 3);

  const fresh = createNetworkDriver({ instance, runDir, log: () => undefined });
  await fresh.reconcile({ networks: [live], endpoints: [], sandboxes: [] });
  assert.deepEqual(await mountsUnder(runDir), []);
  for (let i = 0; i < 100 && ourLinks().length > 1; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(ourLinks(), [live.bridge]);
  const table = sh('nft', ['list', 'table', 'ip', `berth_${instance}`]).out;
  assert.match(table, new RegExp(`post_${live.id.slice(0, 12)}`));
  assert.doesNotMatch(table, new RegExp(`post_${stale.id.slice(0, 12)}|10\\.201\\.${third}\\.4`));
  assert.doesNotMatch(table, new RegExp(`fwd_${stale.id.slice(0, 12)}`));

  await fresh.reconcile({ networks: [], endpoints: [], sandboxes: [] });
  assert.deepEqual(ourLinks(), []);
  assert.notEqual(sh('nft', ['list', 'table', 'ip', `berth_${instance}`]).code, 0);
});

test('hostRoutes lists the host networks including a bridge of ours', async () => {
  await driver.ensureNetwork(net);
  try {
    const routes = await driver.hostRoutes();
    assert.ok(routes.includes(net.subnet), routes.join(' '));
    assert.ok(routes.every((r) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(r)));
  } finally {
    await driver.removeNetwork(net);
  }
});
