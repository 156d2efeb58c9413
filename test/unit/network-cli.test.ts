import assert from 'node:assert/strict';
import { test } from 'node:test';
import { networkCreateBody, renderNetworks } from '../../src/cli/commands/networks.js';

const nets = [
  { Name: 'none', Id: 'c'.repeat(64), Driver: 'null', Scope: 'local' },
  { Name: 'bridge', Id: 'a'.repeat(64), Driver: 'bridge', Scope: 'local', Labels: { x: '1' } },
];

test('network ls: docker\'s table sorted by name, -q, --no-trunc and templates', () => {
  assert.equal(
    renderNetworks(nets, {}),
    'NETWORK ID     NAME      DRIVER    SCOPE\n' + `${'a'.repeat(12)}   bridge    bridge    local\n` + `${'c'.repeat(12)}   none      null      local\n`,
  );
  assert.equal(renderNetworks(nets, { quiet: true }), `${'a'.repeat(12)}\n${'c'.repeat(12)}\n`);
  assert.equal(renderNetworks(nets, { quiet: true, noTrunc: true }), `${'a'.repeat(64)}\n${'c'.repeat(64)}\n`);
  assert.equal(renderNetworks(nets, { format: '{{.Name}}:{{.Labels}}:{{.Label "x"}}' }), 'bridge:x=1:1\nnone::\n');
});

test('network create: IPAM config per subnet, options and labels as maps', () => {
  const body = networkCreateBody('n', {
    driver: 'bridge', subnet: ['10.1.0.0/16'], gateway: ['10.1.0.254'], ipRange: [], internal: true, label: ['a=b'], opt: ['com.docker.network.driver.mtu=1400'],
  });
  assert.deepEqual(body['IPAM'], { Driver: 'default', Options: {}, Config: [{ Subnet: '10.1.0.0/16', Gateway: '10.1.0.254' }] });
  assert.equal(body['Internal'], true);
  assert.deepEqual(body['Options'], { 'com.docker.network.driver.mtu': '1400' });
  assert.deepEqual(body['Labels'], { a: 'b' });
  assert.throws(() => networkCreateBody('n', { driver: 'bridge', subnet: [], gateway: ['10.1.0.1'], ipRange: [], label: [], opt: [] }), /every ip-range or gateway must have a corresponding subnet/);
});
