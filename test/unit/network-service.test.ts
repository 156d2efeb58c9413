import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventBus, type EngineEvent } from '../../src/engine/events/event-bus.js';
import { NetworkService, type ContainerNetInput, type ContainerPeer, type ConnectTarget } from '../../src/engine/networks/network-service.js';
import { emptyNetworkSettings, type NetworkDoc, type NetworkSettings } from '../../src/engine/networks/types.js';
import type { BridgeNetwork, Endpoint, NetworkDriver } from '../../src/runtime/network/types.js';
import { MetadataDb } from '../../src/store/db.js';
import { NetworkRecords } from '../../src/store/network-records.js';

/** Records what the engine asks of the kernel side. */
class FakeDriver implements NetworkDriver {
  calls: string[] = [];
  routes = ['0.0.0.0/0', '172.17.0.0/16'];
  nextPort = 40000;
  async ensureNetwork(n: BridgeNetwork) { this.calls.push(`ensure ${n.bridge} ${n.subnet}`); }
  async removeNetwork(n: BridgeNetwork) { this.calls.push(`remove ${n.bridge}`); }
  async createSandbox(id: string) { this.calls.push(`sandbox ${id}`); return `/run/test/netns/${id}`; }
  async removeSandbox(id: string) { this.calls.push(`unsandbox ${id}`); }
  async attach(p: string, ep: Endpoint) { this.calls.push(`attach ${ep.containerId} ${ep.ifName} ${ep.ip} ${ep.ports.map((x) => `${x.hostPort}>${x.containerPort}`).join(',')}`); }
  async detach(p: string, ep: Endpoint) { this.calls.push(`detach ${ep.containerId} ${ep.ifName}`); }
  async reconcile(live: { networks: BridgeNetwork[]; endpoints: Endpoint[]; sandboxes: string[] }) { this.calls.push(`reconcile ${live.networks.length} ${live.endpoints.length} ${live.sandboxes.length}`); }
  async hostRoutes() { return this.routes; }
  async freeHostPort() { return this.nextPort++; }
}

interface Fixture {
  svc: NetworkService;
  driver: FakeDriver;
  events: EngineEvent[];
  db: MetadataDb;
  containers: Map<string, ConnectTarget & { pid: number }>;
}

async function fixture(db = MetadataDb.open(':memory:')): Promise<Fixture> {
  const driver = new FakeDriver();
  const bus = new EventBus();
  const events: EngineEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const svc = new NetworkService(new NetworkRecords<NetworkDoc>(db), driver, bus, { defaultBridge: 'tb0', resolvConfPath: '/nonexistent', log: () => {} });
  const containers = new Map<string, ConnectTarget & { pid: number }>();
  const find = (ref: string) => {
    const c = containers.get(ref) ?? [...containers.values()].find((x) => x.name === ref);
    if (!c) throw new Error(`No such container: ${ref}`);
    return c;
  };
  svc.setContainers({
    peer: (ref): ContainerPeer => {
      const c = find(ref);
      return { id: c.id, name: c.name, running: c.running, pid: c.pid };
    },
    withNetworkSettings: async (ref, fn) => fn(find(ref)),
  });
  await svc.init();
  return { svc, driver, events, db, containers };
}

const cid = (n: number): string => String(n).repeat(64).slice(0, 64);

function input(id: string, name: string, networkMode: string, networks: NetworkSettings['Networks'], extra: Partial<ContainerNetInput> = {}): ContainerNetInput {
  return {
    id, name, hostname: id.slice(0, 12), domainname: '', networkMode, networks, links: [], portBindings: {}, exposedPorts: {}, publishAll: false,
    extraHosts: [], dns: [], dnsSearch: [], dnsOptions: [], ...extra,
  };
}

test('predefined networks exist with stable IDs; the default bridge gets the first free pool', async () => {
  const db = MetadataDb.open(':memory:');
  const a = await fixture(db);
  const ids = a.svc.list().map((n) => `${n.Name}:${n.Id}`).sort();
  assert.equal(ids.length, 3);
  const bridge = a.svc.inspect('bridge');
  assert.equal(bridge.Driver, 'bridge');
  assert.deepEqual(bridge.IPAM.Config, [{ Subnet: '172.18.0.0/16', Gateway: '172.18.0.1' }]);
  assert.equal(bridge.Options['com.docker.network.bridge.name'], 'tb0');
  assert.equal(a.svc.inspect('none').Driver, 'null');
  const b = await fixture(db);
  assert.deepEqual(b.svc.list().map((n) => `${n.Name}:${n.Id}`).sort(), ids);
});

test('create: pool choice, options, duplicates, predefined names and drivers', async () => {
  const { svc, driver, events } = await fixture();
  const { Id } = await svc.create({ Name: 'front', Labels: { team: 'a' }, Options: { 'com.docker.network.driver.mtu': '1400' } });
  const net = svc.inspect('front');
  assert.equal(net.Id, Id);
  assert.deepEqual(net.IPAM.Config, [{ Subnet: '172.19.0.0/16', Gateway: '172.19.0.1' }]);
  assert.ok(driver.calls.includes(`ensure br-${Id.slice(0, 12)} 172.19.0.0/16`));
  assert.deepEqual(events.map((e) => `${e.Type} ${e.Action} ${e.Actor.Attributes.name}`), ['network create front']);
  await svc.create({ Name: 'custom', IPAM: { Config: [{ Subnet: '10.50.0.0/24', IPRange: '10.50.0.128/25' }] } });
  assert.deepEqual(svc.inspect('custom').IPAM.Config, [{ Subnet: '10.50.0.0/24', Gateway: '10.50.0.1', IPRange: '10.50.0.128/25' }]);
  await assert.rejects(svc.create({ Name: 'front' }), (e: Error & { code?: string }) => e.code === 'conflict' && /network with name front already exists/.test(e.message));
  await assert.rejects(svc.create({ Name: 'host' }), (e: Error & { code?: string }) => e.code === 'forbidden');
  await assert.rejects(svc.create({ Name: 'x', Driver: 'overlay' }), (e: Error & { code?: string }) => e.code === 'not_found');
  await assert.rejects(svc.create({ Name: 'y', IPAM: { Config: [{ Subnet: '10.50.0.0/16' }] } }), /Pool overlaps/);
  await assert.rejects(svc.create({ Name: 'z', Options: { 'com.docker.network.driver.mtu': 'big' } }), /invalid MTU/);
  assert.equal(svc.inspect(Id.slice(0, 6)).Name, 'front');
});

test('list filters: type, name, label, driver, dangling; unknown filters refused', async () => {
  const { svc } = await fixture();
  await svc.create({ Name: 'alpha', Labels: { env: 'prod' } });
  await svc.create({ Name: 'beta' });
  const names = (f: Record<string, string[]>) => svc.list(new Map(Object.entries(f))).map((n) => n.Name).sort();
  assert.deepEqual(names({ type: ['custom'] }), ['alpha', 'beta']);
  assert.deepEqual(names({ type: ['builtin'] }), ['bridge', 'host', 'none']);
  assert.deepEqual(names({ name: ['alp'] }), ['alpha']);
  assert.deepEqual(names({ label: ['env=prod'] }), ['alpha']);
  assert.deepEqual(names({ label: ['env'] }), ['alpha']);
  assert.deepEqual(names({ driver: ['null'] }), ['none']);
  assert.deepEqual(names({ dangling: ['true'] }), ['alpha', 'beta']);
  assert.throws(() => svc.list(new Map([['bogus', ['1']]])), /invalid filter 'bogus'/);
  assert.throws(() => svc.list(new Map([['type', ['other']]])), /invalid filter: 'type'='other'/);
});

test('start: addresses lowest-free, ports, DNS names; release frees them; rm refused while in use', async () => {
  const { svc, driver } = await fixture();
  await svc.create({ Name: 'app' });
  const appId = svc.inspect('app').Id;
  const eps = svc.endpointsForCreate('app', { app: { Aliases: ['db-alias'] } as never });
  const one = await svc.prepareStart(input(cid(1), 'one', 'app', eps, { portBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] }, exposedPorts: { '80/tcp': {} } }));
  const ns = await one.namespace;
  assert.deepEqual(ns, { mode: 'path', path: `/run/test/netns/${cid(1)}` });
  await one.attach();
  assert.equal(one.settings.Networks['app']!.IPAddress, '172.19.0.2');
  assert.equal(one.settings.Networks['app']!.MacAddress, '02:42:ac:13:00:02');
  assert.deepEqual(one.settings.Networks['app']!.DNSNames, ['one', 'db-alias', cid(1).slice(0, 12)]);
  assert.deepEqual(one.settings.Ports, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '40000' }] });
  assert.equal(one.settings.SandboxKey, `/run/test/netns/${cid(1)}`);
  assert.match(one.resolv, /^nameserver 172\.19\.0\.1$/m);
  assert.match(one.hosts, /172\.19\.0\.2\t111111111111\n$/);
  assert.ok(driver.calls.includes(`attach ${cid(1)} eth0 172.19.0.2 40000>80`));

  const two = await svc.prepareStart(input(cid(2), 'two', 'app', svc.endpointsForCreate('app', {})));
  assert.equal(two.settings.Networks['app']!.IPAddress, '172.19.0.3');
  assert.deepEqual(svc.lookupName(appId, 'one').sort(), ['172.19.0.2']);
  assert.deepEqual(svc.lookupName(appId, 'DB-ALIAS.'), ['172.19.0.2']);
  assert.deepEqual(svc.lookupName(appId, cid(2).slice(0, 12)), ['172.19.0.3']);
  assert.deepEqual(svc.lookupName(appId, 'one.app'), ['172.19.0.2']);
  assert.deepEqual(svc.lookupName(appId, 'nobody'), []);
  assert.deepEqual(Object.keys(svc.inspect('app').Containers).sort(), [cid(1), cid(2)]);

  await assert.rejects(svc.remove('app'), (e: Error & { code?: string }) => e.code === 'conflict' && /error while removing network: network app has active endpoints/.test(e.message));
  await svc.release(cid(1));
  assert.ok(driver.calls.includes(`unsandbox ${cid(1)}`));
  const three = await svc.prepareStart(input(cid(3), 'three', 'app', svc.endpointsForCreate('app', {})));
  assert.equal(three.settings.Networks['app']!.IPAddress, '172.19.0.2');
  await svc.release(cid(2));
  await svc.release(cid(3));
  await svc.remove('app');
  assert.throws(() => svc.inspect('app'), /network app not found/);
  await assert.rejects(svc.remove('bridge'), (e: Error & { code?: string }) => e.code === 'forbidden');
});

test('default bridge: no DNS names, host resolv.conf, host port clash gives Docker\'s error', async () => {
  const { svc } = await fixture();
  const bridgeId = svc.inspect('bridge').Id;
  const bind = { '80/tcp': [{ HostIp: '', HostPort: '8080' }] };
  const a = await svc.prepareStart(input(cid(4), 'a', 'bridge', svc.endpointsForCreate('bridge', undefined), { portBindings: bind }));
  assert.equal(a.settings.IPAddress, '172.18.0.2');
  assert.equal(a.settings.Gateway, '172.18.0.1');
  assert.equal(a.settings.Networks['bridge']!.DNSNames, null);
  assert.match(a.resolv, /nameserver 8\.8\.8\.8/);
  assert.deepEqual(svc.lookupName(bridgeId, 'a'), []);
  await assert.rejects(
    svc.prepareStart(input(cid(5), 'b', 'bridge', svc.endpointsForCreate('bridge', undefined), { portBindings: bind })),
    /Bind for 0\.0\.0\.0:8080 failed: port is already allocated/,
  );
  assert.throws(() => svc.endpointsForCreate('bridge', { bridge: { Aliases: ['x'] } as never }), /network-scoped alias is supported only for containers in user defined networks/);
  assert.throws(() => svc.endpointsForCreate('nosuch', undefined), /network nosuch not found/);
});

test('connect and disconnect: stopped containers change config only, running ones get a veth', async () => {
  const { svc, driver, containers, events } = await fixture();
  await svc.create({ Name: 'back' });
  const stopped: ConnectTarget & { pid: number } = { id: cid(6), name: 'idle', hostname: 'h', running: false, networkMode: 'bridge', settings: emptyNetworkSettings(), pid: 0 };
  containers.set(stopped.id, stopped);
  await svc.connect('back', 'idle', { Aliases: ['svc'] });
  assert.deepEqual(stopped.settings.Networks['back']!.Aliases, ['svc']);
  await assert.rejects(svc.connect('back', 'idle'), /endpoint with name idle already exists in network back/);
  await svc.disconnect('back', 'idle');
  assert.equal(stopped.settings.Networks['back'], undefined);

  const plan = await svc.prepareStart(input(cid(7), 'busy', 'bridge', svc.endpointsForCreate('bridge', undefined)));
  await plan.attach();
  const running: ConnectTarget & { pid: number } = { id: cid(7), name: 'busy', hostname: 'h', running: true, networkMode: 'bridge', settings: plan.settings, pid: 42 };
  containers.set(running.id, running);
  await svc.connect('back', 'busy', { IPAMConfig: { IPv4Address: '172.19.0.9' } });
  assert.equal(running.settings.Networks['back']!.IPAddress, '172.19.0.9');
  assert.ok(driver.calls.includes(`attach ${cid(7)} eth1 172.19.0.9 `));
  await svc.disconnect('back', 'busy');
  assert.ok(driver.calls.includes(`detach ${cid(7)} eth1`));
  await assert.rejects(svc.disconnect('back', 'busy'), /is not connected to network back/);
  assert.deepEqual(
    events.filter((e) => e.Action === 'connect' || e.Action === 'disconnect').map((e) => `${e.Action} ${e.Actor.Attributes.name} ${e.Actor.Attributes.container!.slice(0, 1)}`),
    ['connect back 6', 'disconnect back 6', 'connect bridge 7', 'connect back 7', 'disconnect back 7'],
  );
  await svc.release(cid(7));
  assert.equal(events.at(-1)?.Action, 'disconnect');
  assert.equal(events.at(-1)?.Actor.Attributes.name, 'bridge');
  const host: ConnectTarget & { pid: number } = { id: cid(8), name: 'hosty', hostname: 'h', running: true, networkMode: 'host', settings: emptyNetworkSettings(), pid: 1 };
  containers.set(host.id, host);
  await assert.rejects(svc.connect('back', 'hosty'), /cannot be connected to any other network/);
});

test('reconcile: running containers keep their addresses, the rest are released', async () => {
  const db = MetadataDb.open(':memory:');
  const a = await fixture(db);
  const plan = await a.svc.prepareStart(input(cid(1), 'keep', 'bridge', a.svc.endpointsForCreate('bridge', undefined), { portBindings: { '80/tcp': [{ HostIp: '', HostPort: '8081' }] } }));
  await plan.namespace;
  await a.svc.prepareStart(input(cid(2), 'gone', 'bridge', a.svc.endpointsForCreate('bridge', undefined)));
  const b = await fixture(db);
  await b.svc.reconcile([{ id: cid(1), name: 'keep', settings: plan.settings, exposed: {} }]);
  assert.ok(b.driver.calls.includes('reconcile 1 1 1'));
  // the dead container's address is free again, the live one's is not, and its port stays taken
  const next = await b.svc.prepareStart(input(cid(3), 'new', 'bridge', b.svc.endpointsForCreate('bridge', undefined)));
  assert.equal(next.settings.IPAddress, '172.18.0.3');
  await assert.rejects(
    b.svc.prepareStart(input(cid(4), 'clash', 'bridge', b.svc.endpointsForCreate('bridge', undefined), { portBindings: { '80/tcp': [{ HostIp: '', HostPort: '8081' }] } })),
    /port is already allocated/,
  );
});

test('shutdown removes the bridges only when no container runs', async () => {
  const { svc, driver } = await fixture();
  await svc.create({ Name: 'keep' });
  const plan = await svc.prepareStart(input(cid(9), 'live', 'bridge', svc.endpointsForCreate('bridge', undefined)));
  await plan.namespace;
  await svc.shutdown();
  assert.ok(!driver.calls.some((c) => c.startsWith('remove ')));
  await svc.release(cid(9));
  await svc.shutdown();
  assert.deepEqual(driver.calls.filter((c) => c.startsWith('remove ')).sort(), ['remove tb0', `remove br-${svc.inspect('keep').Id.slice(0, 12)}`].sort());
});
