import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allocateAddress, choosePool, defaultPools, macFromIp, parseCidr, formatCidr, subnetConfig } from '../../src/engine/networks/ipam.js';

test('default pools are Docker\'s: 172.17-31/16 then 192.168.x/20', () => {
  const pools = defaultPools();
  assert.equal(pools[0], '172.17.0.0/16');
  assert.equal(pools[14], '172.31.0.0/16');
  assert.equal(pools[15], '192.168.0.0/20');
  assert.equal(pools[16], '192.168.16.0/20');
  assert.equal(pools.length, 31);
});

test('choosePool skips pools overlapping host routes and other networks, ignores the default route', () => {
  assert.equal(choosePool(['0.0.0.0/0', '192.0.2.0/24']), '172.17.0.0/16');
  assert.equal(choosePool(['172.17.0.0/16', '172.18.5.0/24']), '172.19.0.0/16');
  assert.equal(choosePool(['172.16.0.0/12']), '192.168.0.0/20');
  assert.equal(choosePool(['172.16.0.0/12', '192.168.0.0/16']), undefined);
  assert.equal(choosePool(['172.17.0.1']), '172.18.0.0/16');
});

test('parseCidr masks host bits and refuses garbage', () => {
  assert.equal(formatCidr(parseCidr('172.20.3.4/16')), '172.20.0.0/16');
  assert.throws(() => parseCidr('300.1.1.1/8'), /invalid CIDR address/);
  assert.throws(() => parseCidr('10.0.0.0'), /invalid CIDR address/);
});

test('subnetConfig fills the gateway and checks gateway and range', () => {
  assert.deepEqual(subnetConfig({ Subnet: '10.9.0.0/24' }), { subnet: '10.9.0.0/24', gateway: '10.9.0.1' });
  assert.deepEqual(subnetConfig({ Subnet: '10.9.0.0/24', Gateway: '10.9.0.254', IPRange: '10.9.0.128/25' }), {
    subnet: '10.9.0.0/24',
    gateway: '10.9.0.254',
    ipRange: '10.9.0.128/25',
  });
  assert.throws(() => subnetConfig({ Subnet: '10.9.0.0/24', Gateway: '10.8.0.1' }), /no matching subnet for gateway 10.8.0.1/);
  assert.throws(() => subnetConfig({ Subnet: '10.9.0.0/24', IPRange: '10.10.0.0/25' }), /no matching subnet for range/);
});

test('allocateAddress gives the lowest free address, honours ranges, requests and exhaustion', () => {
  const cfg = { subnet: '10.9.0.0/29', gateway: '10.9.0.1' };
  assert.equal(allocateAddress(cfg, new Set()), '10.9.0.2');
  assert.equal(allocateAddress(cfg, new Set(['10.9.0.2', '10.9.0.3'])), '10.9.0.4');
  // released addresses are reused lowest-first
  assert.equal(allocateAddress(cfg, new Set(['10.9.0.3'])), '10.9.0.2');
  assert.equal(allocateAddress({ ...cfg, ipRange: '10.9.0.4/30' }, new Set()), '10.9.0.4');
  assert.equal(allocateAddress(cfg, new Set(), '10.9.0.5'), '10.9.0.5');
  assert.throws(() => allocateAddress(cfg, new Set(['10.9.0.5']), '10.9.0.5'), /Address already in use/);
  assert.throws(() => allocateAddress(cfg, new Set(), '10.9.1.5'), /no configured subnet or ip-range contain the IP address 10.9.1.5/);
  assert.throws(() => allocateAddress(cfg, new Set(['10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6'])), /no available IPv4 addresses/);
});

test('MAC addresses derive from the IP as Docker does', () => {
  assert.equal(macFromIp('172.17.0.2'), '02:42:ac:11:00:02');
});
