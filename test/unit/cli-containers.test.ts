import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tar from 'tar-stream';
import { encodeFrame } from '../../src/cli/stdcopy-reader.js';
import { rawModes, withContainerDaemon, type UpgradeRoute } from './cli-containers-fake.js';

const ID = 'c0ffee46f28c7d744131e3b498797fe8f9539539d2c7a4eb767395f3604909b5';
const EXEC_ID = 'e7ec9f13316f1f71a66fe8ca64048d0ba21b962c685f7435257934024730eb16';

/** What docker 28 sent for `docker run --rm busybox echo hi` (captured from /usr/local/bin/docker). */
const DOCKER_BODY_RUN_RM = '{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["echo","hi"],"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":true,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"","DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}';
/** What docker 28 sent for `docker run -d --name x -e A=b -p 8080:80 busybox httpd`. */
const DOCKER_BODY_RUN_D = '{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"ExposedPorts":{"80/tcp":{}},"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["A=b"],"Cmd":["httpd"],"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}]},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"","DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}';

/** An attach that sends output frames and closes, as the daemon does when the container exits. */
const frames =
  (...parts: Buffer[]): UpgradeRoute =>
  (socket) => {
    socket.end(Buffer.concat(parts));
  };

test('run --rm busybox echo hi: docker\'s requests, demultiplexed output, exit code from wait', async () => {
  await withContainerDaemon(
    {
      'POST /containers/create': { status: 201, json: { Id: ID, Warnings: [] } },
      [`POST /containers/${ID}/wait`]: { json: { StatusCode: 3 } },
      [`POST /containers/${ID}/start`]: { status: 204 },
    },
    { [`POST /containers/${ID}/attach`]: frames(encodeFrame('stdout', 'hi\n'), encodeFrame('stderr', 'oops\n'), encodeFrame('stdout', 'bye\n')) },
    async (d, berth) => {
      const r = await berth(['run', '--rm', 'busybox', 'echo', 'hi']);
      assert.deepEqual(d.calls(), [
        'POST /v1.50/containers/create',
        `POST /v1.50/containers/${ID}/attach?stderr=1&stdout=1&stream=1`,
        `POST /v1.50/containers/${ID}/wait?condition=removed`,
        `POST /v1.50/containers/${ID}/start`,
      ]);
      const create = d.find('POST', '/containers/create')!;
      assert.equal(create.headers['content-type'], 'application/json');
      assert.equal(create.body.toString(), DOCKER_BODY_RUN_RM);
      const attach = d.find('POST', `/containers/${ID}/attach`)!;
      assert.equal(attach.headers['connection'], 'Upgrade');
      assert.equal(attach.headers['upgrade'], 'tcp');
      assert.equal(attach.headers['content-type'], 'text/plain');
      assert.equal(r.out, 'hi\nbye\n');
      assert.equal(r.err, 'oops\n');
      assert.equal(r.code, 3);
    },
  );
});

test('run -d --name x -e A=b -p 8080:80 busybox httpd: the body docker sends, then wait and start; prints the ID', async () => {
  await withContainerDaemon(
    {
      'POST /containers/create': { status: 201, json: { Id: ID, Warnings: [] } },
      [`POST /containers/${ID}/wait`]: { json: { StatusCode: 0 } },
      [`POST /containers/${ID}/start`]: { status: 204 },
    },
    {},
    async (d, berth) => {
      const r = await berth(['run', '-d', '--name', 'x', '-e', 'A=b', '-p', '8080:80', 'busybox', 'httpd']);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(d.calls(), [
        'POST /v1.50/containers/create?name=x',
        `POST /v1.50/containers/${ID}/wait?condition=next-exit`,
        `POST /v1.50/containers/${ID}/start`,
      ]);
      assert.equal(d.find('POST', '/containers/create')!.body.toString(), DOCKER_BODY_RUN_D);
      assert.equal(r.out, ID + '\n');
      assert.equal(r.err, '');
    },
  );
});

test('run of a missing image pulls it (progress on stderr) and creates again', async () => {
  let creates = 0;
  const pull = ['{"status":"Pulling from library/busybox","id":"latest"}', '{"status":"Status: Downloaded newer image for busybox:latest"}'].join('\r\n');
  await withContainerDaemon(
    {
      'POST /containers/create': () => (++creates === 1 ? { status: 404, json: { message: 'No such image: busybox:latest' } } : { status: 201, json: { Id: ID } }),
      'POST /images/create': { body: pull },
      [`POST /containers/${ID}/wait`]: { json: { StatusCode: 0 } },
      [`POST /containers/${ID}/start`]: { status: 204 },
    },
    { [`POST /containers/${ID}/attach`]: frames(encodeFrame('stdout', 'ok\n')) },
    async (d, berth) => {
      const r = await berth(['run', 'busybox']);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(d.calls().slice(0, 3), [
        'POST /v1.50/containers/create',
        'POST /v1.50/images/create?fromImage=docker.io%2Flibrary%2Fbusybox&tag=latest',
        'POST /v1.50/containers/create',
      ]);
      assert.equal(r.err, "Unable to find image 'busybox:latest' locally\nlatest: Pulling from library/busybox\nStatus: Downloaded newer image for busybox:latest\n");
      assert.equal(r.out, 'ok\n');
    },
  );
});

test('run --pull never with a missing image fails with exit 125 and docker\'s message', async () => {
  await withContainerDaemon({ 'POST /containers/create': { status: 404, json: { message: 'No such image: busybox:latest' } } }, {}, async (d, berth) => {
    const r = await berth(['run', '--pull', 'never', 'busybox']);
    assert.equal(r.code, 125);
    assert.equal(r.err, "berth: Error response from daemon: No such image: busybox:latest\n\nRun 'berth run --help' for more information\n");
    assert.deepEqual(d.calls(), ['POST /v1.50/containers/create']);
  });
});

test('run -i: stdin goes into the attach stream and is half-closed; output still arrives after that', async () => {
  const echo: UpgradeRoute = (socket: net.Socket) => {
    const got: Buffer[] = [];
    socket.on('data', (c: Buffer) => got.push(c));
    socket.on('end', () => socket.end(encodeFrame('stdout', Buffer.concat(got).toString().toUpperCase())));
  };
  await withContainerDaemon(
    {
      'POST /containers/create': { status: 201, json: { Id: ID } },
      [`POST /containers/${ID}/wait`]: { json: { StatusCode: 0 } },
      [`POST /containers/${ID}/start`]: { status: 204 },
    },
    { [`POST /containers/${ID}/attach`]: echo },
    async (d, berth) => {
      const r = await berth(['run', '-i', 'busybox', 'cat'], 'hello\n');
      assert.equal(r.code, 0, r.err);
      assert.equal(d.calls()[1], `POST /v1.50/containers/${ID}/attach?stderr=1&stdin=1&stdout=1&stream=1`);
      const body = JSON.parse(d.find('POST', '/containers/create')!.body.toString()) as Record<string, unknown>;
      assert.equal(body['AttachStdin'], true);
      assert.equal(body['OpenStdin'], true);
      assert.equal(body['StdinOnce'], true);
      assert.equal(r.out, 'HELLO\n');
    },
  );
});

test('run -t: TTY output is copied as is (no stdcopy framing)', async () => {
  await withContainerDaemon(
    {
      'POST /containers/create': { status: 201, json: { Id: ID } },
      [`POST /containers/${ID}/wait`]: { json: { StatusCode: 0 } },
      [`POST /containers/${ID}/start`]: { status: 204 },
    },
    { [`POST /containers/${ID}/attach`]: frames(Buffer.from('raw\r\n')) },
    async (d, berth) => {
      const r = await berth(['run', '-t', 'busybox']);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, 'raw\r\n');
      // stdout is not a terminal here: no resize
      assert.equal(d.calls().filter((c) => c.includes('/resize')).length, 0);
    },
  );
});

test('a systemerr frame ends the stream with the daemon\'s message', async () => {
  await withContainerDaemon(
    {
      'POST /containers/create': { status: 201, json: { Id: ID } },
      [`POST /containers/${ID}/wait`]: { json: { StatusCode: 0 } },
      [`POST /containers/${ID}/start`]: { status: 204 },
    },
    { [`POST /containers/${ID}/attach`]: frames(encodeFrame('stdout', 'a\n'), encodeFrame('systemerr', 'log driver failed')) },
    async (_d, berth) => {
      const r = await berth(['run', 'busybox']);
      assert.equal(r.out, 'a\n');
      assert.equal(r.err, 'log driver failed\n');
      assert.equal(r.code, 1);
    },
  );
});

test('exec c echo hi: inspect, create exec with docker\'s body, hijacked start, exit code from the exec', async () => {
  await withContainerDaemon(
    {
      'GET /containers/c/json': { json: { Id: ID, Config: { Tty: false }, State: { Running: true } } },
      'POST /containers/c/exec': { status: 201, json: { Id: EXEC_ID } },
      [`GET /exec/${EXEC_ID}/json`]: { json: { ExitCode: 4, Running: false } },
    },
    { [`POST /exec/${EXEC_ID}/start`]: frames(encodeFrame('stdout', 'hi\n')) },
    async (d, berth) => {
      const r = await berth(['exec', 'c', 'echo', 'hi']);
      assert.deepEqual(d.calls(), [
        'GET /v1.50/containers/c/json',
        'POST /v1.50/containers/c/exec',
        `POST /v1.50/exec/${EXEC_ID}/start`,
        `GET /v1.50/exec/${EXEC_ID}/json`,
      ]);
      assert.equal(
        d.find('POST', '/containers/c/exec')!.body.toString(),
        '{"User":"","Privileged":false,"Tty":false,"AttachStdin":false,"AttachStderr":true,"AttachStdout":true,"Detach":false,"DetachKeys":"","Env":null,"WorkingDir":"","Cmd":["echo","hi"]}',
      );
      const start = d.find('POST', `/exec/${EXEC_ID}/start`)!;
      assert.equal(start.headers['upgrade'], 'tcp');
      assert.equal(start.headers['content-type'], 'application/json');
      assert.equal(start.body.toString(), '{"Detach":false,"Tty":false}');
      assert.equal(r.out, 'hi\n');
      assert.equal(r.code, 4);
    },
  );
});

test('exec -d: a plain start request with Detach true, nothing attached', async () => {
  await withContainerDaemon(
    {
      'GET /containers/c/json': { json: { Id: ID } },
      'POST /containers/c/exec': { status: 201, json: { Id: EXEC_ID } },
      [`POST /exec/${EXEC_ID}/start`]: { status: 200 },
    },
    {},
    async (d, berth) => {
      const r = await berth(['exec', '-d', '-e', 'A=1', '-w', '/w', '-u', 'u', 'c', 'sleep', '1']);
      assert.equal(r.code, 0, r.err);
      assert.equal(
        d.find('POST', '/containers/c/exec')!.body.toString(),
        '{"User":"u","Privileged":false,"Tty":false,"AttachStdin":false,"AttachStderr":false,"AttachStdout":false,"Detach":true,"DetachKeys":"","Env":["A=1"],"WorkingDir":"/w","Cmd":["sleep","1"]}',
      );
      const start = d.find('POST', `/exec/${EXEC_ID}/start`)!;
      assert.equal(start.headers['upgrade'], undefined);
      assert.equal(start.body.toString(), '{"Detach":true,"Tty":false}');
    },
  );
});

test('logs --tail 5 -t: inspect for the ID, then the logs query docker sends; frames demultiplexed', async () => {
  await withContainerDaemon(
    {
      'GET /containers/c0ffee/json': { json: { Id: ID, Config: { Tty: false } } },
      [`GET /containers/${ID}/logs`]: { body: Buffer.concat([encodeFrame('stdout', '2024-01-01T00:00:00Z out\n'), encodeFrame('stderr', '2024-01-01T00:00:01Z err\n')]) },
    },
    {},
    async (d, berth) => {
      const r = await berth(['logs', '--tail', '5', '-t', 'c0ffee']);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(d.calls(), ['GET /v1.50/containers/c0ffee/json', `GET /v1.50/containers/${ID}/logs?stderr=1&stdout=1&tail=5&timestamps=1`]);
      assert.equal(r.out, '2024-01-01T00:00:00Z out\n');
      assert.equal(r.err, '2024-01-01T00:00:01Z err\n');
    },
  );
});

test('logs of a TTY container are copied raw; -f and --since/--until become docker\'s query', async () => {
  await withContainerDaemon(
    {
      'GET /containers/t/json': { json: { Id: ID, Config: { Tty: true } } },
      [`GET /containers/${ID}/logs`]: { body: 'plain\r\n' },
    },
    {},
    async (d, berth) => {
      const r = await berth(['logs', '-f', '--since', '2025-01-01T00:00:00Z', '--until', '1700000000', 't']);
      assert.equal(r.code, 0, r.err);
      assert.equal(d.calls()[1], `GET /v1.50/containers/${ID}/logs?follow=1&since=1735689600.000000000&stderr=1&stdout=1&tail=all&until=1700000000`);
      assert.equal(r.out, 'plain\r\n');
    },
  );
});

const psList = [
  {
    Id: ID,
    Names: ['/web', '/other/alias'],
    Image: 'busybox:latest',
    ImageID: 'sha256:' + '6d'.repeat(32),
    Command: 'httpd -f -p 80 --some-very-long-argument',
    Created: Math.floor(Date.now() / 1000) - 7200,
    Ports: [
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { IP: '::', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { PrivatePort: 443, Type: 'tcp' },
      { PrivatePort: 444, Type: 'tcp' },
    ],
    Labels: { b: '2', a: '1' },
    State: 'running',
    Status: 'Up 2 hours',
    NetworkSettings: { Networks: { bridge: {}, zz: {} } },
    Mounts: [{ Type: 'volume', Name: '0123456789abcdef0123', Source: '/var/lib/x' }, { Type: 'bind', Source: '/h', Destination: '/c' }],
  },
];

test('ps -a --format: docker\'s query and fields (quoted, truncated command; grouped ports)', async () => {
  await withContainerDaemon({ 'GET /containers/json': { json: psList } }, {}, async (d, berth) => {
    const r = await berth(['ps', '-a', '--format', '{{.ID}}|{{.Names}}|{{.Command}}|{{.Ports}}|{{.Labels}}|{{.Label "a"}}|{{.Mounts}}|{{.Networks}}']);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(d.calls(), ['GET /v1.50/containers/json?all=1']);
    assert.equal(
      r.out,
      'c0ffee46f28c|web|"httpd -f -p 80 --so…"|443-444/tcp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp|a=1,b=2|1|0123456789abcd…,/h|bridge,zz\n',
    );
  });
});

test('ps: default table as docker prints it; -s asks for sizes; -q prints IDs', async () => {
  await withContainerDaemon({ 'GET /containers/json': { json: psList } }, {}, async (d, berth) => {
    const r = await berth(['ps']);
    assert.equal(
      r.out,
      'CONTAINER ID   IMAGE            COMMAND                  CREATED       STATUS       PORTS                                                  NAMES\n' +
        'c0ffee46f28c   busybox:latest   "httpd -f -p 80 --so…"   2 hours ago   Up 2 hours   443-444/tcp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp   web\n',
    );
    const q = await berth(['ps', '-q', '-l', '-s', '--filter', 'status=running']);
    assert.equal(q.out, 'c0ffee46f28c\n');
    assert.equal(d.calls()[1], 'GET /v1.50/containers/json?filters=%7B%22status%22%3A%7B%22running%22%3Atrue%7D%7D&limit=1&size=1');
  });
});

test('rm -f: DELETE with force=1, prints the name; a container already gone is not an error', async () => {
  await withContainerDaemon(
    {
      'DELETE /containers/c0ffee': { status: 204 },
      'DELETE /containers/gone': { status: 404, json: { message: 'No such container: gone' } },
    },
    {},
    async (d, berth) => {
      const r = await berth(['rm', '-f', 'c0ffee', 'gone']);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(d.calls(), ['DELETE /v1.50/containers/c0ffee?force=1', 'DELETE /v1.50/containers/gone?force=1']);
      assert.equal(r.out, 'c0ffee\n');
      const plain = await berth(['rm', 'gone']);
      assert.equal(plain.code, 1);
      assert.equal(plain.err, 'Error response from daemon: No such container: gone\n');
    },
  );
});

test('stop, kill, restart, wait: docker\'s queries and output', async () => {
  await withContainerDaemon(
    {
      'POST /containers/a/stop': { status: 204 },
      'POST /containers/a/kill': { status: 204 },
      'POST /containers/a/restart': { status: 204 },
      'POST /containers/a/wait': { json: { StatusCode: 7 } },
    },
    {},
    async (d, berth) => {
      assert.equal((await berth(['stop', '-t', '3', '-s', 'INT', 'a'])).out, 'a\n');
      assert.equal((await berth(['kill', '-s', 'HUP', 'a'])).out, 'a\n');
      assert.equal((await berth(['container', 'restart', '-t', '2', 'a'])).out, 'a\n');
      assert.equal((await berth(['wait', 'a'])).out, '7\n');
      assert.deepEqual(d.calls(), [
        'POST /v1.50/containers/a/stop?signal=INT&t=3',
        'POST /v1.50/containers/a/kill?signal=HUP',
        'POST /v1.50/containers/a/restart?t=2',
        'POST /v1.50/containers/a/wait',
      ]);
    },
  );
});

test('inspect tries the container, then the image; unknown names are reported like docker', async () => {
  await withContainerDaemon(
    {
      'GET /containers/busybox/json': { status: 404, json: { message: 'No such container: busybox' } },
      'GET /images/busybox/json': { json: { Id: 'sha256:1' } },
      'GET /containers/c/json': { json: { Id: ID } },
    },
    {},
    async (d, berth) => {
      const r = await berth(['inspect', '-f', '{{.Id}}', 'c', 'busybox', 'nope']);
      assert.equal(r.out, `${ID}\nsha256:1\n`);
      assert.equal(r.err, 'Error: No such object: nope\n');
      assert.equal(r.code, 1);
      assert.ok(d.calls().includes('GET /v1.50/images/busybox/json'));
    },
  );
});

test('a hijack refused by the daemon is a daemon error', async () => {
  await withContainerDaemon(
    {
      'POST /containers/create': { status: 201, json: { Id: 'nope' } },
    },
    {},
    async (_d, berth) => {
      const r = await berth(['run', 'busybox']);
      assert.equal(r.code, 1);
      assert.equal(r.err, 'Error response from daemon: No such container: nope\n');
    },
  );
});

test('run -it: raw mode on the terminal, detach keys end the session without forwarding them', async () => {
  const received: Buffer[] = [];
  let ended: () => void;
  const serverSawEnd = new Promise<void>((resolve) => (ended = resolve));
  const collect: UpgradeRoute = (socket: net.Socket) => {
    socket.write('$ ');
    socket.on('data', (c: Buffer) => received.push(c));
    socket.on('end', () => {
      ended();
      socket.end();
    });
  };
  await withContainerDaemon(
    {
      'POST /containers/create': { status: 201, json: { Id: ID } },
      [`POST /containers/${ID}/wait`]: { json: { StatusCode: 9 } },
      [`POST /containers/${ID}/start`]: { status: 204 },
    },
    { [`POST /containers/${ID}/attach`]: collect },
    async (d, berth) => {
      rawModes.length = 0;
      const r = await berth(['run', '-it', 'busybox', 'sh'], 'ls\x10\x11exit\n', { stdinTty: true });
      await serverSawEnd;
      assert.equal(r.code, 0, r.err);
      assert.equal(Buffer.concat(received).toString(), 'ls');
      assert.equal(r.out, '$ ');
      assert.deepEqual(rawModes, [true, false]);
      const body = JSON.parse(d.find('POST', '/containers/create')!.body.toString()) as Record<string, unknown>;
      assert.equal(body['Tty'], true);
      assert.equal(d.calls()[1], `POST /v1.50/containers/${ID}/attach?stderr=1&stdin=1&stdout=1&stream=1`);
    },
  );
});

test('run -it without a terminal on stdin fails before creating anything', async () => {
  await withContainerDaemon({}, {}, async (d, berth) => {
    const r = await berth(['run', '-it', 'busybox']);
    assert.equal(r.code, 1);
    assert.equal(r.err, 'the input device is not a TTY\n');
    assert.deepEqual(d.calls(), []);
  });
});

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, text] of Object.entries(files)) pack.entry({ name, mode: 0o644 }, text);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

async function tarEntries(buf: Buffer): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, stream, next) => {
      const parts: Buffer[] = [];
      stream.on('data', (c: unknown) => parts.push(c as Buffer));
      stream.on('end', () => {
        out[h.name] = Buffer.concat(parts).toString();
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(buf);
  await done;
  return out;
}

const statHeader = (stat: Record<string, unknown>): string => Buffer.from(JSON.stringify(stat)).toString('base64');

test('cp container:/etc/hosts ./file: GET archive, the single entry lands under the destination name', async () => {
  const archive = await tarOf({ hosts: '127.0.0.1 localhost\n' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cp-test-'));
  try {
    await withContainerDaemon(
      {
        'GET /containers/c0ffee/archive': {
          headers: { 'X-Docker-Container-Path-Stat': statHeader({ name: 'hosts', size: 20, mode: 0o644, mtime: '2024-01-01T00:00:00Z', linkTarget: '' }) },
          body: archive,
        },
      },
      {},
      async (d, berth) => {
        const dest = path.join(dir, 'cp-out.txt');
        const r = await berth(['cp', 'c0ffee:/etc/hosts', dest]);
        assert.equal(r.code, 0, r.err);
        assert.deepEqual(d.calls(), ['GET /v1.50/containers/c0ffee/archive?path=%2Fetc%2Fhosts']);
        assert.equal(fs.readFileSync(dest, 'utf8'), '127.0.0.1 localhost\n');
        assert.equal(r.err, `Successfully copied 20B to ${dest}\n`);
      },
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('cp ./file.txt container:/tmp/: HEAD to stat the directory, then PUT a tar of the file into it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cp-test-'));
  try {
    const src = path.join(dir, 'file.txt');
    fs.writeFileSync(src, 'hello');
    await withContainerDaemon(
      {
        'HEAD /containers/c0ffee/archive': { headers: { 'X-Docker-Container-Path-Stat': statHeader({ name: 'tmp', size: 4096, mode: 0x80000000 + 0o1777, mtime: '', linkTarget: '' }) } },
        'PUT /containers/c0ffee/archive': { status: 200 },
      },
      {},
      async (d, berth) => {
        const r = await berth(['cp', src, 'c0ffee:/tmp/']);
        assert.equal(r.code, 0, r.err);
        assert.deepEqual(d.calls(), ['HEAD /v1.50/containers/c0ffee/archive?path=%2Ftmp%2F', 'PUT /v1.50/containers/c0ffee/archive?noOverwriteDirNonDir=true&path=%2Ftmp%2F']);
        const put = d.find('PUT', '/containers/c0ffee/archive')!;
        assert.equal(put.headers['content-type'], 'text/plain');
        assert.deepEqual(await tarEntries(put.body), { 'file.txt': 'hello' });
        assert.equal(r.err, 'Successfully copied 5B to c0ffee:/tmp/\n');
      },
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
