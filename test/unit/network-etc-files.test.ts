import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostsFile, resolveExtraHosts, resolvConf } from '../../src/engine/networks/etc-files.js';

test('hosts: the container address with its hostname, links and extra hosts', () => {
  const text = hostsFile({
    hostname: 'web',
    domainname: '',
    ips: ['172.17.0.3'],
    links: [{ ip: '172.17.0.2', alias: 'db', id: 'a'.repeat(64), name: 'mydb' }],
    extraHosts: resolveExtraHosts(['gw:host-gateway', 'x:1.2.3.4'], '172.17.0.1'),
  });
  const lines = text.trimEnd().split('\n');
  assert.equal(lines[0], '127.0.0.1\tlocalhost');
  assert.ok(lines.includes('172.17.0.1\tgw'));
  assert.ok(lines.includes('1.2.3.4\tx'));
  assert.ok(lines.includes(`172.17.0.2\tdb ${'a'.repeat(12)} mydb`));
  assert.equal(lines.at(-1), '172.17.0.3\tweb');
  assert.ok(!text.includes('127.0.1.1'));
  assert.ok(hostsFile({ hostname: 'h', ips: [], links: [], extraHosts: [] }).includes('127.0.1.1\th\n'));
});

test('resolv.conf: default bridge drops loopback servers, user networks use the embedded server', () => {
  const host = 'nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch corp.example\noptions ndots:2\n';
  assert.equal(resolvConf({ host, dns: [], dnsSearch: [], dnsOptions: [] }), 'nameserver 10.0.0.2\nsearch corp.example\noptions ndots:2\n');
  assert.equal(resolvConf({ host: 'nameserver 127.0.0.1\n', dns: [], dnsSearch: [], dnsOptions: [] }), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  assert.equal(resolvConf({ host, embeddedDns: '172.18.0.1', dns: [], dnsSearch: [], dnsOptions: [] }), 'nameserver 172.18.0.1\nsearch corp.example\noptions ndots:2\n');
  assert.equal(resolvConf({ host, dns: ['9.9.9.9'], dnsSearch: ['a.b'], dnsOptions: ['timeout:1'] }), 'nameserver 9.9.9.9\nsearch a.b\noptions timeout:1\n');
});
