import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { localAnswer, normalizeName, parseUpstream, servfail } from '../../src/runtime/network/dns-server.js';

const query = (name: string, type: 'A' | 'AAAA' | 'MX', id = 4242): dnsPacket.DecodedPacket =>
  dnsPacket.decode(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] }));

const table: Record<string, string[]> = { web: ['10.201.9.2', '10.201.9.3'] };
const lookup = (name: string): string[] => table[name] ?? [];

test('names are compared lower case without the trailing dot', () => {
  assert.equal(normalizeName('Web.'), 'web');
  assert.equal(normalizeName('a.b.C'), 'a.b.c');
});

test('known names get A records with TTL 600 and the query id', () => {
  const reply = dnsPacket.decode(localAnswer(query('WEB.', 'A'), lookup) ?? Buffer.alloc(0));
  assert.equal(reply.id, 4242);
  assert.equal(reply.type, 'response');
  assert.equal(reply.flag_rd, true);
  assert.deepEqual(
    reply.answers?.map((a) => [a.type, 'data' in a ? a.data : undefined, 'ttl' in a ? a.ttl : undefined]),
    [
      ['A', '10.201.9.2', 600],
      ['A', '10.201.9.3', 600],
    ],
  );
});

test('AAAA of a known name is an empty NOERROR; unknown names and other types are not answered locally', () => {
  const aaaa = dnsPacket.decode(localAnswer(query('web', 'AAAA'), lookup) ?? Buffer.alloc(0));
  assert.equal(aaaa.answers?.length, 0);
  assert.equal((aaaa as unknown as { rcode: string }).rcode, 'NOERROR');
  assert.equal(localAnswer(query('nope', 'A'), lookup), undefined);
  assert.equal(localAnswer(query('web', 'MX'), lookup), undefined);
});

test('SERVFAIL keeps id and question; garbage gives nothing', () => {
  const raw = dnsPacket.encode({ type: 'query', id: 7, questions: [{ type: 'A', name: 'x.example', class: 'IN' }] });
  const r = dnsPacket.decode(servfail(raw) ?? Buffer.alloc(0)) as dnsPacket.DecodedPacket & { rcode: string };
  assert.equal(r.id, 7);
  assert.equal(r.rcode, 'SERVFAIL');
  assert.equal(r.questions?.[0]?.name, 'x.example');
  assert.equal(servfail(Buffer.from([1])), undefined);
});

test('upstream addresses with and without ports', () => {
  assert.deepEqual(parseUpstream('10.0.0.2'), { host: '10.0.0.2', port: 53 });
  assert.deepEqual(parseUpstream('127.0.0.1:5300'), { host: '127.0.0.1', port: 5300 });
  assert.deepEqual(parseUpstream('[::1]:54'), { host: '::1', port: 54 });
});
