import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StdcopyParser, demultiplex, encodeFrame } from '../../src/cli/stdcopy-reader.js';
import { DetachKeyFilter, parseDetachKeys } from '../../src/cli/terminal.js';
import { hijackRequestBytes } from '../../src/cli/hijack-client.js';
import {
  nanoCpus,
  normalizeCaps,
  parseDevice,
  parseGoDuration,
  parseMount,
  parsePublish,
  parseRestart,
  ramInBytes,
} from '../../src/cli/commands/container-options.js';
import { displayablePorts, goQuote } from '../../src/cli/commands/container-ps.js';
import { apiTimestamp } from '../../src/cli/commands/containers.js';
import { splitCpArg } from '../../src/cli/commands/container-cp.js';

test('stdcopy: frames split across chunks at any byte are reassembled in order', () => {
  const wire = Buffer.concat([encodeFrame('stdout', 'hello '), encodeFrame('stderr', 'err'), encodeFrame('stdout', 'world')]);
  for (let cut = 1; cut < wire.length; cut++) {
    const p = new StdcopyParser();
    const frames = [...p.push(wire.subarray(0, cut)), ...p.push(wire.subarray(cut))];
    assert.deepEqual(
      frames.map((f) => `${f.stream}:${f.payload.toString()}`),
      ['stdout:hello ', 'stderr:err', 'stdout:world'],
    );
    assert.equal(p.buffered, 0);
  }
});

test('stdcopy: an unknown stream type is an error; demultiplex routes stdout and stderr', async () => {
  assert.throws(() => new StdcopyParser().push(Buffer.from([9, 0, 0, 0, 0, 0, 0, 1, 65])), /Unrecognized input header: 9/);
  const out: string[] = [];
  const err: string[] = [];
  async function* src(): AsyncGenerator<Buffer> {
    yield encodeFrame('stdout', 'a');
    yield encodeFrame('stderr', 'b');
  }
  await demultiplex(src(), { write: (c: Buffer) => out.push(c.toString()) }, { write: (c: Buffer) => err.push(c.toString()) });
  assert.deepEqual([out, err], [['a'], ['b']]);
  await assert.rejects(demultiplex((async function* () { yield encodeFrame('systemerr', 'boom'); })(), { write: () => 0 }, { write: () => 0 }), /boom/);
});

test('detach keys: ctrl-p ctrl-q is caught, a broken sequence is forwarded', () => {
  assert.deepEqual(parseDetachKeys('ctrl-p,ctrl-q'), [16, 17]);
  assert.deepEqual(parseDetachKeys('ctrl-a,x,ctrl-@'), [1, 120, 0]);
  assert.throws(() => parseDetachKeys('ctrl-pq'), /Invalid escape keys/);
  const f = new DetachKeyFilter([16, 17]);
  assert.deepEqual(f.filter(Buffer.from('ab\x10')), { forward: Buffer.from('ab'), detached: false });
  assert.deepEqual(f.filter(Buffer.from('c')), { forward: Buffer.from('\x10c'), detached: false });
  assert.deepEqual(f.filter(Buffer.from('\x10')), { forward: Buffer.alloc(0), detached: false });
  assert.deepEqual(f.filter(Buffer.from('\x11rest')), { forward: Buffer.alloc(0), detached: true });
});

test('hijack request: the head Go writes for an upgrade, body after it', () => {
  const bytes = hijackRequestBytes('POST', '/v1.50/exec/e1/start', 'unix:///run/x.sock', { json: { Detach: false, Tty: false }, userAgent: 'ua' }).toString();
  assert.equal(
    bytes,
    'POST /v1.50/exec/e1/start HTTP/1.1\r\nHost: api.moby.localhost\r\nUser-Agent: ua\r\nContent-Length: 28\r\nConnection: Upgrade\r\nContent-Type: application/json\r\nUpgrade: tcp\r\n\r\n{"Detach":false,"Tty":false}',
  );
  const attach = hijackRequestBytes('POST', '/v1.50/containers/c/attach', 'unix:///x', { query: { stream: '1', stdout: '1' } }).toString();
  assert.match(attach, /^POST \/v1\.50\/containers\/c\/attach\?stdout=1&stream=1 HTTP\/1\.1\r\n/);
  assert.match(attach, /Content-Type: text\/plain\r\n/);
});

test('-p specs: ip, ranges, protocols, empty host port', () => {
  const r = parsePublish(['8080:80', '127.0.0.1::81/udp', '8000-8001:90-91', '[::1]:9000:99', '7000-7010:70']);
  assert.deepEqual([...r.exposed].sort(), ['70/tcp', '80/tcp', '81/udp', '90/tcp', '91/tcp', '99/tcp']);
  assert.deepEqual(r.bindings.get('80/tcp'), [{ HostIp: '', HostPort: '8080' }]);
  assert.deepEqual(r.bindings.get('81/udp'), [{ HostIp: '127.0.0.1', HostPort: '' }]);
  assert.deepEqual(r.bindings.get('91/tcp'), [{ HostIp: '', HostPort: '8001' }]);
  assert.deepEqual(r.bindings.get('99/tcp'), [{ HostIp: '::1', HostPort: '9000' }]);
  assert.deepEqual(r.bindings.get('70/tcp'), [{ HostIp: '', HostPort: '7000-7010' }]);
  assert.throws(() => parsePublish(['1-3:80-81']), /invalid ranges/);
  assert.throws(() => parsePublish(['80/xyz']), /invalid proto/);
});

test('sizes, CPUs, durations, restart policies', () => {
  assert.equal(ramInBytes('64m'), 67108864);
  assert.equal(ramInBytes('1g'), 1073741824);
  assert.equal(ramInBytes('512'), 512);
  assert.equal(ramInBytes('1.5kb'), 1536);
  assert.throws(() => ramInBytes('lots'), /invalid size/);
  assert.equal(nanoCpus('1.5'), 1500000000);
  assert.equal(nanoCpus('0.1'), 100000000);
  assert.equal(nanoCpus('2'), 2000000000);
  assert.equal(parseGoDuration('1m30s'), 90e9);
  assert.equal(parseGoDuration('500ms'), 5e8);
  assert.deepEqual(parseRestart('on-failure:3'), { Name: 'on-failure', MaximumRetryCount: 3 });
  assert.deepEqual(parseRestart('always'), { Name: 'always', MaximumRetryCount: 0 });
  assert.throws(() => parseRestart('always:2'), /only be used with 'on-failure'/);
  assert.throws(() => parseRestart('sometimes'), /unknown policy/);
});

test('--mount, --device and capabilities normalize like docker', () => {
  assert.deepEqual(parseMount('type=bind,src=/x,dst=/y,readonly'), { Type: 'bind', Source: '/x', Target: '/y', ReadOnly: true });
  assert.deepEqual(parseMount('source=v,target=/data'), { Type: 'volume', Source: 'v', Target: '/data' });
  assert.deepEqual(parseMount('type=tmpfs,destination=/t,tmpfs-size=1m'), { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1048576 } });
  assert.throws(() => parseMount('type=bind,src=/x'), /target is required/);
  assert.deepEqual(parseDevice('/dev/fuse'), { PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' });
  assert.deepEqual(parseDevice('/dev/a:rw'), { PathOnHost: '/dev/a', PathInContainer: '/dev/a', CgroupPermissions: 'rw' });
  assert.deepEqual(parseDevice('/dev/a:/dev/b:r'), { PathOnHost: '/dev/a', PathInContainer: '/dev/b', CgroupPermissions: 'r' });
  assert.deepEqual(normalizeCaps(['sys_admin', 'CAP_SYS_ADMIN', 'all']), ['CAP_SYS_ADMIN', 'ALL']);
  assert.equal(normalizeCaps([]), null);
});

test('ps helpers: port grouping and Go quoting', () => {
  assert.equal(
    displayablePorts([
      { PrivatePort: 444, Type: 'tcp' },
      { PrivatePort: 443, Type: 'tcp' },
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { IP: '0.0.0.0', PrivatePort: 53, PublicPort: 53, Type: 'udp' },
    ]),
    '0.0.0.0:53->53/udp, 443-444/tcp, 0.0.0.0:8080->80/tcp',
  );
  assert.equal(displayablePorts([]), '');
  assert.equal(goQuote('say "hi"\n'), '"say \\"hi\\"\\n"');
});

test('log timestamps: durations relative to now, RFC 3339 as sec.nanos, unix times as given', () => {
  const now = Date.UTC(2025, 0, 1, 0, 10, 0);
  assert.equal(apiTimestamp('10m', now), String(Date.UTC(2025, 0, 1) / 1000));
  assert.equal(apiTimestamp('2025-01-01T00:00:00.5Z', now), '1735689600.500000000');
  assert.equal(apiTimestamp('1700000000', now), '1700000000');
  assert.equal(apiTimestamp(undefined, now), undefined);
  assert.throws(() => apiTimestamp('yesterday', now), /failed to parse/);
});

test('cp arguments: container:path vs local paths', () => {
  assert.deepEqual(splitCpArg('c0ffee:/etc/hosts'), { container: 'c0ffee', path: '/etc/hosts' });
  assert.deepEqual(splitCpArg('./a:b'), { path: './a:b' });
  assert.deepEqual(splitCpArg('/abs:x'), { path: '/abs:x' });
  assert.deepEqual(splitCpArg('-'), { path: '-' });
});
