import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DOCKER_HUB_ORIGIN,
  ipInCidr,
  isInsecureRegistry,
  isLoopbackHost,
  registryEndpoints,
  registryHostOf,
  splitHostPort,
} from '../../src/registry/hosts.js';

const none = { insecure: [], mirrors: [] };

describe('hosts', () => {
  it('splits host and port, IPv6 included', () => {
    assert.deepEqual(splitHostPort('127.0.0.1:5000'), { hostname: '127.0.0.1', port: '5000' });
    assert.deepEqual(splitHostPort('[::1]:5000'), { hostname: '::1', port: '5000' });
    assert.deepEqual(splitHostPort('[::1]'), { hostname: '::1' });
    assert.deepEqual(splitHostPort('example.com'), { hostname: 'example.com' });
  });

  it('knows loopback hosts', () => {
    for (const h of ['127.0.0.1:5000', '127.1.2.3', 'localhost:5000', 'localhost', '[::1]:5000', '::1']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['128.0.0.1', 'example.com:5000', '10.0.0.1', '[fc00::1]:5000', 'localhost.example.com']) assert.equal(isLoopbackHost(h), false, h);
  });

  it('matches CIDRs for IPv4 and IPv6 literals', () => {
    assert.equal(ipInCidr('10.1.2.3', '10.0.0.0/8'), true);
    assert.equal(ipInCidr('11.1.2.3', '10.0.0.0/8'), false);
    assert.equal(ipInCidr('192.168.1.7', '192.168.1.0/24'), true);
    assert.equal(ipInCidr('1.2.3.4', '0.0.0.0/0'), true);
    assert.equal(ipInCidr('fc00::5', 'fc00::/7'), true);
    assert.equal(ipInCidr('fe80::1', 'fc00::/7'), false);
    assert.equal(ipInCidr('10.0.0.1', 'fc00::/7'), false);
    assert.equal(ipInCidr('10.0.0.1', 'garbage'), false);
  });

  it('decides insecure registries', () => {
    const cfg = { insecure: ['myreg:5000', 'plain.example', '10.0.0.0/8', 'http://withscheme:1/'], mirrors: [] };
    assert.equal(isInsecureRegistry('127.0.0.1:5000', none), true);
    assert.equal(isInsecureRegistry('myreg:5000', cfg), true);
    assert.equal(isInsecureRegistry('myreg:5001', cfg), false);
    assert.equal(isInsecureRegistry('plain.example:443', cfg), true);
    assert.equal(isInsecureRegistry('10.4.5.6:5000', cfg), true);
    assert.equal(isInsecureRegistry('withscheme:1', cfg), true);
    assert.equal(isInsecureRegistry('example.com', cfg), false);
  });

  it('normalises login server addresses', () => {
    assert.equal(registryHostOf('https://index.docker.io/v1/'), 'docker.io');
    assert.equal(registryHostOf(''), 'docker.io');
    assert.equal(registryHostOf('http://127.0.0.1:5000/'), '127.0.0.1:5000');
    assert.equal(registryHostOf('Registry.Example.com'), 'registry.example.com');
  });
});

describe('registryEndpoints', () => {
  it('goes straight to http for loopback', () => {
    assert.deepEqual(registryEndpoints('127.0.0.1:5000', none).map((e) => e.origin), ['http://127.0.0.1:5000']);
    assert.deepEqual(registryEndpoints('localhost:5000', none).map((e) => e.origin), ['http://localhost:5000']);
    assert.deepEqual(registryEndpoints('[::1]:5000', none).map((e) => e.origin), ['http://[::1]:5000']);
  });

  it('uses verified https for other hosts', () => {
    assert.deepEqual(registryEndpoints('registry.example.com', none), [{ origin: 'https://registry.example.com', tlsVerify: true, mirror: false }]);
  });

  it('tries https without verification, then http, for insecure hosts', () => {
    const eps = registryEndpoints('10.0.0.5:5000', { insecure: ['10.0.0.0/8'], mirrors: [] });
    assert.deepEqual(eps, [
      { origin: 'https://10.0.0.5:5000', tlsVerify: false, mirror: false },
      { origin: 'http://10.0.0.5:5000', tlsVerify: false, mirror: false },
    ]);
  });

  it('puts mirrors before Docker Hub for docker.io only', () => {
    const cfg = { insecure: [], mirrors: ['http://127.0.0.1:5000/', 'https://mirror.example'] };
    assert.deepEqual(registryEndpoints('docker.io', cfg), [
      { origin: 'http://127.0.0.1:5000', tlsVerify: false, mirror: true },
      { origin: 'https://mirror.example', tlsVerify: true, mirror: true },
      { origin: DOCKER_HUB_ORIGIN, tlsVerify: true, mirror: false },
    ]);
    assert.deepEqual(registryEndpoints('docker.io', cfg, { useMirrors: false }).map((e) => e.origin), [DOCKER_HUB_ORIGIN]);
    assert.deepEqual(registryEndpoints('quay.io', cfg).map((e) => e.origin), ['https://quay.io']);
  });

  it('rejects a mirror that is not an http(s) URL', () => {
    assert.throws(() => registryEndpoints('docker.io', { insecure: [], mirrors: ['ftp://x'] }), /unsupported scheme/);
    assert.throws(() => registryEndpoints('docker.io', { insecure: [], mirrors: ['not a url'] }), /invalid registry endpoint/);
  });
});
