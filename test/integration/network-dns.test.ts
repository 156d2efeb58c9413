import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import dnsPacket from 'dns-packet';
import { EmbeddedDns } from '../../src/runtime/network/dns-server.js';

// Everything on loopback: the fake upstream on 127.0.0.1, the server on a random 127.x address (port 53 there is
// free of the host resolver). Never the machine's real resolver.
const b = randomBytes(2);
const serverIp = `127.53.${b[0] ?? 1}.${((b[1] ?? 0) % 250) + 2}`;
let upstream: UdpSocket;
let upstreamPort = 0;
let upstreamSeen = 0;
let silentUpstream: UdpSocket;
let silentPort = 0;
let upstreams: string[] = [];
const dns = new EmbeddedDns({
  upstreams: () => upstreams,
  lookup: (net, name) => (net === 'n1' && name === 'web' ? ['10.201.50.2'] : []),
  log: () => undefined,
  upstreamTimeoutMs: 300,
});

function bindUdp(onMessage: (sock: UdpSocket, msg: Buffer, port: number, addr: string) => void): Promise<[UdpSocket, number]> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    sock.on('message', (msg, r) => onMessage(sock, msg, r.port, r.address));
    sock.bind(0, '127.0.0.1', () => resolve([sock, sock.address().port]));
  });
}

before(async () => {
  [upstream, upstreamPort] = await bindUdp((sock, msg, port, addr) => {
    upstreamSeen++;
    const q = dnsPacket.decode(msg);
    const reply = dnsPacket.encode({
      type: 'response',
      id: q.id ?? 0,
      flags: dnsPacket.RECURSION_AVAILABLE,
      questions: q.questions ?? [],
      answers: [{ type: 'A', class: 'IN', name: q.questions?.[0]?.name ?? '', ttl: 5, data: '192.0.2.99' }],
    });
    sock.send(reply, port, addr);
  });
  [silentUpstream, silentPort] = await bindUdp(() => undefined);
  await dns.listen('n1', serverIp, 53);
});

after(async () => {
  await dns.closeAll();
  upstream.close();
  silentUpstream.close();
});

function queryUdp(name: string, type: 'A' | 'AAAA', id: number): Promise<dnsPacket.DecodedPacket & { rcode?: string }> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error('no reply'));
    }, 3000);
    sock.on('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      resolve(dnsPacket.decode(msg));
    });
    sock.send(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] }), 53, serverIp);
  });
}

function queryTcp(name: string, id: number): Promise<dnsPacket.DecodedPacket & { rcode?: string }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: serverIp, port: 53 });
    let buf = Buffer.alloc(0);
    s.on('error', reject);
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        s.destroy();
        resolve(dnsPacket.streamDecode(buf) as dnsPacket.DecodedPacket);
      }
    });
    s.write(dnsPacket.streamEncode({ type: 'query', id, questions: [{ type: 'A', name, class: 'IN' }] }));
  });
}

const aData = (p: dnsPacket.Packet): unknown[] => (p.answers ?? []).map((a) => ('data' in a ? a.data : undefined));

test('known names are answered locally over UDP and TCP, case-insensitive, trailing dot or not', async () => {
  upstreams = [`127.0.0.1:${upstreamPort}`];
  const before = upstreamSeen;
  const udp = await queryUdp('WEB.', 'A', 111);
  assert.equal(udp.id, 111);
  assert.deepEqual(aData(udp), ['10.201.50.2']);
  assert.equal(udp.answers?.[0] && 'ttl' in udp.answers[0] ? udp.answers[0].ttl : 0, 600);
  const tcp = await queryTcp('web', 112);
  assert.equal(tcp.id, 112);
  assert.deepEqual(aData(tcp), ['10.201.50.2']);
  const aaaa = await queryUdp('web', 'AAAA', 113);
  assert.equal(aaaa.rcode, 'NOERROR');
  assert.deepEqual(aaaa.answers, []);
  assert.equal(upstreamSeen, before, 'nothing went upstream');
});

test('other names go to the upstream with the id kept, over UDP and TCP', async () => {
  upstreams = [`127.0.0.1:${upstreamPort}`];
  const udp = await queryUdp('example.org', 'A', 2001);
  assert.equal(udp.id, 2001);
  assert.deepEqual(aData(udp), ['192.0.2.99']);
  const tcp = await queryTcp('example.net', 2002);
  assert.equal(tcp.id, 2002);
  assert.deepEqual(aData(tcp), ['192.0.2.99']);
});

test('a silent upstream is skipped for the next; when all are silent the answer is SERVFAIL', async () => {
  upstreams = [`127.0.0.1:${silentPort}`, `127.0.0.1:${upstreamPort}`];
  assert.deepEqual(aData(await queryUdp('example.com', 'A', 3001)), ['192.0.2.99']);
  upstreams = [`127.0.0.1:${silentPort}`];
  const fail = await queryUdp('example.com', 'A', 3002);
  assert.equal(fail.id, 3002);
  assert.equal(fail.rcode, 'SERVFAIL');
});

test('close stops answering on that address, and it can listen again', async () => {
  await dns.close('n1');
  await assert.rejects(queryTcp('web', 1));
  await dns.listen('n1', serverIp, 53);
  assert.deepEqual(aData(await queryTcp('web', 2)), ['10.201.50.2']);
});
