import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bridgeBatch, hostVethBatch, parseHostRoutes, parseLinks, sandboxBatch } from '../../src/runtime/network/links.js';
import { aliasOwner, checkInstance, hostVethName, vethAlias } from '../../src/runtime/network/names.js';
import { formatCidr, intToIpv4, ipv4ToInt, parseCidr } from '../../src/runtime/network/cidr.js';
import { parsePortRange, pickFreePort } from '../../src/runtime/network/ports.js';
import type { BridgeNetwork, Endpoint } from '../../src/runtime/network/types.js';

const net: BridgeNetwork = {
  id: 'f'.repeat(64),
  bridge: 'br-ffffffffffff',
  subnet: '10.201.4.0/22',
  gateway: '10.201.4.1',
  mtu: 1400,
  internal: false,
  masquerade: true,
  icc: true,
};
const ep: Endpoint = {
  containerId: 'd'.repeat(64),
  network: net,
  ifName: 'eth1',
  ip: '10.201.4.9',
  prefixLen: 22,
  mac: '02:42:0a:c9:04:09',
  defaultRoute: true,
  ports: [],
};

test('CIDR math', () => {
  assert.equal(ipv4ToInt('10.201.4.1'), 0x0ac90401);
  assert.equal(intToIpv4(0xffffffff), '255.255.255.255');
  assert.deepEqual(parseCidr('10.201.5.7/22'), { network: '10.201.4.0', prefixLen: 22 });
  assert.equal(formatCidr(parseCidr('1.2.3.4')), '1.2.3.4/32');
  assert.equal(formatCidr(parseCidr('9.9.9.9/0')), '0.0.0.0/0');
  assert.throws(() => ipv4ToInt('1.2.3.256'));
  assert.throws(() => parseCidr('1.2.3.4/33'));
});

test('instance tags are short lowercase alphanumerics', () => {
  assert.equal(checkInstance('berth'), 'berth');
  assert.throws(() => checkInstance('Berth'));
  assert.throws(() => checkInstance('toolonginst'));
  assert.throws(() => checkInstance(''));
});

test('aliases tell our bridges and veths from other daemons and from untagged links', () => {
  assert.deepEqual(aliasOwner('a1', 'berth:a1'), { kind: 'bridge' });
  assert.deepEqual(aliasOwner('a1', vethAlias('a1', 'abc')), { kind: 'veth', containerId: 'abc' });
  assert.deepEqual(aliasOwner('a1', 'berth:a12'), { kind: 'other-instance' });
  assert.deepEqual(aliasOwner('a1', 'berth:b1:abc'), { kind: 'other-instance' });
  assert.deepEqual(aliasOwner('a1', undefined), { kind: 'none' });
  assert.deepEqual(aliasOwner('a1', 'uplink'), { kind: 'none' });
});

test('host veth names are veth + 7 hex, stable per container and network', () => {
  const a = hostVethName('c1', 'n1');
  assert.match(a, /^veth[0-9a-f]{7}$/);
  assert.equal(hostVethName('c1', 'n1'), a);
  assert.notEqual(hostVethName('c1', 'n2'), a);
});

test('bridge batch creates only when missing and always tags, sizes, addresses and raises it', () => {
  assert.equal(
    bridgeBatch('a1', net, false),
    'link add name br-ffffffffffff mtu 1400 type bridge\nlink set dev br-ffffffffffff address 02:42:0a:c9:04:01 alias berth:a1 mtu 1400 up\naddr replace 10.201.4.1/22 dev br-ffffffffffff\n',
  );
  assert.doesNotMatch(bridgeBatch('a1', net, true), /link add/);
});

test('attach batches: veth born inside the sandbox, then address, up and default route there', () => {
  const host = hostVethBatch('a1', '/run/x/netns/ddd', ep).split('\n');
  const veth = hostVethName(ep.containerId, net.id);
  assert.equal(
    host[0],
    `link add ${veth} mtu 1400 master br-ffffffffffff up type veth peer name eth1 address 02:42:0a:c9:04:09 mtu 1400 netns /run/x/netns/ddd`,
  );
  assert.equal(host[1], `link set dev ${veth} alias berth:a1:${'d'.repeat(64)}`);
  assert.equal(
    sandboxBatch(ep),
    'addr add 10.201.4.9/22 dev eth1\nlink set dev eth1 up\nroute replace default via 10.201.4.1 dev eth1\n',
  );
  assert.doesNotMatch(sandboxBatch({ ...ep, defaultRoute: false }), /route/);
  assert.doesNotMatch(sandboxBatch({ ...ep, network: { ...net, internal: true } }), /route/);
});

test('ip -j output parsing: links and host routes', () => {
  const links = parseLinks(
    JSON.stringify([
      { ifindex: 1, ifname: 'lo' },
      { ifindex: 5, ifname: 'br-x', ifalias: 'berth:a1' },
      { ifindex: 6, ifname: 'vethabc1234', ifalias: 'berth:a1:cid', master: 'br-x' },
    ]),
  );
  assert.deepEqual(links, [{ name: 'lo' }, { name: 'br-x', alias: 'berth:a1' }, { name: 'vethabc1234', alias: 'berth:a1:cid', master: 'br-x' }]);
  const routes = JSON.stringify([
    { dst: 'default', gateway: '192.0.2.1', dev: 'eth0' },
    { dst: '192.0.2.0/24', dev: 'eth0' },
    { dst: '10.9.9.9', dev: 'tun0' },
  ]);
  const addrs = JSON.stringify([
    { ifname: 'eth0', addr_info: [{ family: 'inet', local: '192.0.2.2', prefixlen: 24 }, { family: 'inet6', local: 'fe80::1', prefixlen: 64 }] },
    { ifname: 'br0', addr_info: [{ family: 'inet', local: '172.30.5.1', prefixlen: 16 }] },
  ]);
  assert.deepEqual(parseHostRoutes(routes, addrs), ['192.0.2.0/24', '10.9.9.9/32', '172.30.0.0/16']);
});

test('port range parsing falls back to Docker defaults', () => {
  assert.deepEqual(parsePortRange('32768\t60999\n'), [32768, 60999]);
  assert.deepEqual(parsePortRange('1024 65535'), [1024, 65535]);
  assert.deepEqual(parsePortRange('garbage'), [32768, 60999]);
});

test('free port search skips published and unbindable ports and wraps around', async () => {
  const busy = new Set([101]);
  const probe = async (_p: 'tcp' | 'udp', _h: string, port: number): Promise<boolean> => !busy.has(port);
  const taken = (k: string): boolean => k === 'tcp/100';
  assert.deepEqual(await pickFreePort('tcp', '', [100, 103], 100, taken, probe), { port: 102, next: 103 });
  assert.deepEqual(await pickFreePort('tcp', '', [100, 103], 103, taken, probe), { port: 103, next: 100 });
  // udp/100 is not taken by a tcp publication
  assert.deepEqual(await pickFreePort('udp', '', [100, 103], 100, taken, probe), { port: 100, next: 101 });
  await assert.rejects(pickFreePort('tcp', '', [100, 101], 100, taken, probe), /no free tcp port/);
});
