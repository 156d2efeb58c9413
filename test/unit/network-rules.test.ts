import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addPortsScript,
  baseScript,
  filterSyncScript,
  networkScript,
  parseFilterTable,
  portKey,
  rebuildScript,
  removeNetworkScript,
  removePortsScript,
} from '../../src/runtime/network/firewall.js';
import type { BridgeNetwork, Endpoint } from '../../src/runtime/network/types.js';

const net: BridgeNetwork = {
  id: 'a1b2c3d4e5f6'.padEnd(64, '0'),
  bridge: 'br-a1b2c3d4e5f6',
  subnet: '10.201.3.0/24',
  gateway: '10.201.3.1',
  mtu: 1500,
  internal: false,
  masquerade: true,
  icc: true,
};

const ep: Endpoint = {
  containerId: 'c'.repeat(64),
  network: net,
  ifName: 'eth0',
  ip: '10.201.3.2',
  prefixLen: 24,
  mac: '02:42:0a:c9:03:02',
  defaultRoute: true,
  ports: [
    { protocol: 'tcp', hostIp: '', hostPort: 8080, containerPort: 80 },
    { protocol: 'udp', hostIp: '127.0.0.1', hostPort: 5353, containerPort: 53 },
  ],
};

test('the base table DNATs local destinations through one map and is safe to re-apply', () => {
  const s = baseScript('t1');
  assert.match(s, /^add table ip berth_t1$/m);
  assert.match(s, /add map ip berth_t1 ports \{ type ipv4_addr \. inet_proto \. inet_service : ipv4_addr \. inet_service; flags interval; \}/);
  // Each base chain is flushed before its single rule so a second application does not duplicate it.
  for (const chain of ['dnat_pre', 'dnat_out']) {
    const lines = s.split('\n');
    const flush = lines.indexOf(`flush chain ip berth_t1 ${chain}`);
    assert.ok(flush > 0);
    assert.match(lines[flush + 1] ?? '', new RegExp(`^add rule ip berth_t1 ${chain} fib daddr type local .*dnat ip to .* map @ports$`));
  }
});

test('a default network masquerades outbound, 127.0.0.0/8 sources and hairpin traffic', () => {
  const s = networkScript('t1', net);
  assert.match(s, /add rule ip berth_t1 post_a1b2c3d4e5f6 ip saddr 10\.201\.3\.0\/24 oifname != "br-a1b2c3d4e5f6" masquerade/);
  assert.match(s, /add rule ip berth_t1 post_a1b2c3d4e5f6 oifname "br-a1b2c3d4e5f6" ip saddr 127\.0\.0\.0\/8 masquerade/);
  assert.match(s, /ct status dnat masquerade/);
  // No forwarding restrictions: the fwd chain is deleted (after an add that makes the delete safe).
  assert.match(s, /add chain ip berth_t1 fwd_a1b2c3d4e5f6 .*\nflush chain ip berth_t1 fwd_a1b2c3d4e5f6\ndelete chain ip berth_t1 fwd_a1b2c3d4e5f6/);
});

test('masquerade false drops only the outbound masquerade', () => {
  const s = networkScript('t1', { ...net, masquerade: false });
  assert.doesNotMatch(s, /oifname != "br-a1b2c3d4e5f6" masquerade/);
  assert.match(s, /127\.0\.0\.0\/8 masquerade/);
});

test('an internal network drops traffic crossing its bridge and never masquerades', () => {
  const s = networkScript('t1', { ...net, internal: true });
  assert.doesNotMatch(s, /masquerade/);
  assert.match(s, /add rule ip berth_t1 fwd_a1b2c3d4e5f6 iifname "br-a1b2c3d4e5f6" oifname != "br-a1b2c3d4e5f6" drop/);
  assert.match(s, /add rule ip berth_t1 fwd_a1b2c3d4e5f6 oifname "br-a1b2c3d4e5f6" iifname != "br-a1b2c3d4e5f6" drop/);
});

test('icc=false drops traffic from the bridge back to itself', () => {
  const s = networkScript('t1', { ...net, icc: false });
  assert.match(s, /add chain ip berth_t1 fwd_a1b2c3d4e5f6 \{ type filter hook forward priority filter; policy accept; \}/);
  assert.match(s, /add rule ip berth_t1 fwd_a1b2c3d4e5f6 iifname "br-a1b2c3d4e5f6" oifname "br-a1b2c3d4e5f6" drop/);
});

test('removing a network deletes exactly its two chains', () => {
  const s = removeNetworkScript('t1', net);
  const deletes = s.split('\n').filter((l) => l.startsWith('delete'));
  assert.deepEqual(deletes, [
    'delete chain ip berth_t1 post_a1b2c3d4e5f6',
    'delete chain ip berth_t1 fwd_a1b2c3d4e5f6',
  ]);
});

test('ports become map elements: every address is 0.0.0.0/0, IPv6 host addresses are skipped', () => {
  assert.equal(portKey({ protocol: 'tcp', hostIp: '', hostPort: 1, containerPort: 2 }), '0.0.0.0/0 . tcp . 1');
  assert.equal(portKey({ protocol: 'udp', hostIp: '0.0.0.0', hostPort: 1, containerPort: 2 }), '0.0.0.0/0 . udp . 1');
  assert.equal(portKey({ protocol: 'tcp', hostIp: '::', hostPort: 1, containerPort: 2 }), undefined);
  assert.equal(
    addPortsScript('t1', [ep]),
    'add element ip berth_t1 ports { 0.0.0.0/0 . tcp . 8080 : 10.201.3.2 . 80, 127.0.0.1 . udp . 5353 : 10.201.3.2 . 53 }\n',
  );
  assert.equal(addPortsScript('t1', [{ ...ep, ports: [] }]), '');
});

test('removing ports re-adds then deletes the same keys, so it is idempotent', () => {
  const s = removePortsScript('t1', [ep]).split('\n');
  assert.match(s[0] ?? '', /^add element ip berth_t1 ports \{ 0\.0\.0\.0\/0 \. tcp \. 8080 : 10\.201\.3\.2 \. 80/);
  assert.equal(s[1], 'delete element ip berth_t1 ports { 0.0.0.0/0 . tcp . 8080, 127.0.0.1 . udp . 5353 }');
});

test('rebuild replaces the table atomically, and with nothing live only deletes it', () => {
  const empty = rebuildScript('t1', [], []);
  assert.equal(empty, 'add table ip berth_t1\ndelete table ip berth_t1\n');
  const full = rebuildScript('t1', [net], [ep]);
  assert.ok(full.startsWith(empty));
  assert.match(full, /post_a1b2c3d4e5f6/);
  assert.match(full, /add element ip berth_t1 ports/);
});

function filterTable(policy: string, withDockerUser: boolean, ours: Array<{ handle: number; comment: string }>): string {
  const items: unknown[] = [
    { metainfo: { version: '1.0.6' } },
    { table: { family: 'ip', name: 'filter', handle: 1 } },
    { chain: { family: 'ip', table: 'filter', name: 'FORWARD', handle: 2, type: 'filter', hook: 'forward', prio: 0, policy } },
  ];
  if (withDockerUser) items.push({ chain: { family: 'ip', table: 'filter', name: 'DOCKER-USER', handle: 3 } });
  for (const o of ours) items.push({ rule: { family: 'ip', table: 'filter', chain: 'FORWARD', handle: o.handle, comment: o.comment, expr: [] } });
  items.push({ rule: { family: 'ip', table: 'filter', chain: 'FORWARD', handle: 99, comment: 'berth:other:a1b2c3d4e5f6', expr: [] } });
  return JSON.stringify({ nftables: items });
}

test("Docker's FORWARD drop policy gets tagged accepts, in DOCKER-USER when it exists", () => {
  const view = parseFilterTable(filterTable('drop', true, []), 't1');
  assert.equal(view.forwardDrops, true);
  assert.equal(view.acceptChain, 'DOCKER-USER');
  assert.deepEqual(view.ours, []);
  const s = filterSyncScript(view, 't1', [net], new Set([net.id.slice(0, 12)]));
  assert.match(s, /^insert rule ip filter "DOCKER-USER" iifname "br-a1b2c3d4e5f6" accept comment "berth:t1:a1b2c3d4e5f6"$/m);
  assert.match(s, /ct state established,related accept/);
});

test('with an accept policy nothing is inserted, and our old rules (only ours) are removed', () => {
  const view = parseFilterTable(filterTable('accept', false, [{ handle: 7, comment: 'berth:t1:a1b2c3d4e5f6' }]), 't1');
  assert.equal(view.forwardDrops, false);
  assert.deepEqual(view.ours, [{ chain: 'FORWARD', handle: 7, netId12: 'a1b2c3d4e5f6' }]);
  assert.equal(filterSyncScript(view, 't1', [net], 'all'), 'delete rule ip filter "FORWARD" handle 7\n');
});

test('filter sync keeps present rules and removes those of networks in scope that are gone', () => {
  const view = parseFilterTable(filterTable('drop', false, [{ handle: 7, comment: 'berth:t1:a1b2c3d4e5f6' }, { handle: 8, comment: 'berth:t1:ffffffffffff' }]), 't1');
  assert.equal(filterSyncScript(view, 't1', [net], 'all'), 'delete rule ip filter "FORWARD" handle 8\n');
  assert.equal(filterSyncScript(view, 't1', [], new Set(['a1b2c3d4e5f6'])), 'delete rule ip filter "FORWARD" handle 7\n');
  assert.equal(parseFilterTable('', 't1').forwardDrops, false);
});
