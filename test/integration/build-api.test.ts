/**
 * The builder through the Engine API as libraries use it: dockerode's buildImage with a tar stream context, a tag
 * and build args; ADD of a URL served on 127.0.0.1 by the test, and of an unreachable 127.0.0.1 port.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Docker from 'dockerode';
import { type BuildFixture, contextTar, startBuildFixture } from '../support/build-fixture.js';

let fx: BuildFixture;
let docker: Docker;
let server: Server;
let port: number;
const served = new Date('2019-03-04T05:06:07Z');

interface BuildMessage {
  stream?: string;
  error?: string;
  errorDetail?: { code?: number; message: string };
  aux?: { ID: string };
}

async function build(files: Record<string, string>, opts: Record<string, unknown>): Promise<BuildMessage[]> {
  const stream = await docker.buildImage(contextTar(files), opts);
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, out: BuildMessage[]) => (err ? reject(err) : resolve(out)));
  });
}

before(async () => {
  fx = await startBuildFixture('berth-build-api-');
  docker = new Docker({ socketPath: fx.daemon.socket });
  server = createServer((req, res) => {
    if (req.url === '/files/hello.txt') {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Last-Modified': served.toUTCString() });
      res.end('hello over http\n');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await fx?.stop();
});

test('dockerode buildImage: a tar stream context, a tag and build args make a working image with a URL ADDed', async () => {
  const out = await build(
    {
      Dockerfile: `FROM busybox\nARG WHO\nADD http://127.0.0.1:${port}/files/hello.txt /srv/\nRUN echo "built by $WHO" > /srv/who\nCMD ["cat", "/srv/hello.txt", "/srv/who"]\n`,
    },
    { t: 'dockerode-built:1', buildargs: { WHO: 'dockerode' } },
  );
  assert.equal(out.find((m) => m.error)?.error, undefined);
  const id = out.find((m) => m.aux?.ID)?.aux?.ID;
  assert.match(id ?? '', /^sha256:[0-9a-f]{64}$/);
  const image = await docker.getImage('dockerode-built:1').inspect();
  assert.equal(image.Id, id);

  const run = await fx.docker(['run', '--rm', 'dockerode-built:1']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'hello over http\nbuilt by dockerode\n');
  const meta = await fx.docker(['run', '--rm', 'dockerode-built:1', 'stat', '-c', '%a %Y', '/srv/hello.txt']);
  assert.equal(meta.stdout, `600 ${served.getTime() / 1000}\n`);
});

test('ADD of a URL: a missing file and an unreachable 127.0.0.1 port fail with Docker\'s messages', async () => {
  const missing = await build({ Dockerfile: `FROM busybox\nADD http://127.0.0.1:${port}/files/nothere.txt /srv/\n` }, {});
  assert.equal(missing.find((m) => m.error)?.error, `failed to GET http://127.0.0.1:${port}/files/nothere.txt with status 404 Not Found`);

  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const deadPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const url = `http://127.0.0.1:${deadPort}/x.txt`;
  const out = await build({ Dockerfile: `FROM busybox\nADD ${url} /srv/\n` }, {});
  assert.equal(out.find((m) => m.error)?.error, `Get "${url}": dial tcp 127.0.0.1:${deadPort}: connect: connection refused`);
});
