import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePortSpec, portBindingsOf, portLines, portsView, summaryPorts, validatePortBindings, wantedPorts } from '../../src/engine/networks/port-specs.js';

test('parsePortSpec: the forms docker run -p takes', () => {
  assert.deepEqual(parsePortSpec('80'), [{ key: '80/tcp', binding: { HostIp: '', HostPort: '' } }]);
  assert.deepEqual(parsePortSpec('8080:80'), [{ key: '80/tcp', binding: { HostIp: '', HostPort: '8080' } }]);
  assert.deepEqual(parsePortSpec('127.0.0.1::80/udp'), [{ key: '80/udp', binding: { HostIp: '127.0.0.1', HostPort: '' } }]);
  assert.deepEqual(parsePortSpec('8000-8001:80-81'), [
    { key: '80/tcp', binding: { HostIp: '', HostPort: '8000' } },
    { key: '81/tcp', binding: { HostIp: '', HostPort: '8001' } },
  ]);
  assert.deepEqual(parsePortSpec('9000-9010:80'), [{ key: '80/tcp', binding: { HostIp: '', HostPort: '9000-9010' } }]);
});

test('parsePortSpec: Docker\'s error messages', () => {
  assert.throws(() => parsePortSpec('8080:'), /^BerthError: no port specified: 8080:<empty>$/);
  assert.throws(() => parsePortSpec('8080:abc'), /invalid containerPort: abc/);
  assert.throws(() => parsePortSpec('99999:80'), /invalid hostPort: 99999/);
  assert.throws(() => parsePortSpec('80/icmp'), /invalid proto: icmp/);
  assert.throws(() => parsePortSpec('8000-8002:80-81'), /invalid ranges specified for container and host Ports: 80-81 and 8000-8002/);
  assert.throws(() => parsePortSpec('1.2.3:80:80'), /invalid IP address: 1.2.3/);
});

test('validatePortBindings: the daemon refuses bad keys and host ports', () => {
  validatePortBindings(portBindingsOf(['8080:80', '53/udp']), { '80/tcp': {} });
  assert.throws(() => validatePortBindings({ 'x/tcp': [] }, {}), /invalid port specification: "x"/);
  assert.throws(() => validatePortBindings({ '80/tcp': [{ HostIp: '', HostPort: 'http' }] }, {}), /invalid port specification: "http"/);
});

test('wantedPorts: bindings plus exposed ports with -P, 0.0.0.0 means every address', () => {
  const w = wantedPorts({ '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }] }, { '80/tcp': {}, '443/tcp': {} }, true);
  assert.deepEqual(w, [
    { key: '80/tcp', protocol: 'tcp', containerPort: 80, hostIp: '', hostRange: [8080, 8080] },
    { key: '443/tcp', protocol: 'tcp', containerPort: 443, hostIp: '', hostRange: [0, 0] },
  ]);
  assert.equal(wantedPorts({}, { '80/tcp': {} }, false).length, 0);
});

test('views: inspect Ports, ps Ports and docker port lines', () => {
  const published = [{ key: '80/tcp', protocol: 'tcp' as const, containerPort: 80, hostIp: '', hostPort: 8080 }];
  const view = portsView(['80/tcp', '443/tcp'], published);
  assert.deepEqual(view, { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '443/tcp': null });
  assert.deepEqual(summaryPorts(['80/tcp', '443/tcp'], published), [
    { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
    { PrivatePort: 443, Type: 'tcp' },
  ]);
  assert.deepEqual(portLines(view), ['80/tcp -> 0.0.0.0:8080']);
  assert.deepEqual(portLines(view, '80'), ['0.0.0.0:8080']);
});
