import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { run } from '../../src/cli/main.js';
import { FakeDaemon, testIo, type Route } from './cli-fake-daemon.js';

async function withDaemon(
  routes: Record<string, Route>,
  fn: (d: FakeDaemon, berth: (args: string[], stdin?: string) => Promise<{ code: number; out: string; err: string }>) => Promise<void>,
  apiVersion?: string,
): Promise<void> {
  const d = new FakeDaemon(routes, { apiVersion });
  await d.start();
  const configDir = path.join(d.dir, 'docker-config');
  try {
    await fn(d, async (args, stdin) => {
      const io = testIo({ DOCKER_CONFIG: configDir }, stdin);
      const code = await run(['-H', `unix://${d.socket}`, ...args], io);
      return { code, out: io.stdout.text, err: io.stderr.text };
    });
  } finally {
    await d.stop();
  }
}

const pullStream = [
  { status: 'Pulling from library/busybox', id: 'latest' },
  { status: 'Pull complete', progressDetail: {}, id: '9ad63333ebc9' },
  { status: 'Digest: sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7' },
  { status: 'Status: Downloaded newer image for busybox:latest' },
]
  .map((m) => JSON.stringify(m))
  .join('\r\n');

test('pull busybox: the request docker sends, and docker\'s output', async () => {
  await withDaemon({ 'POST /images/create': { headers: { 'Content-Type': 'application/json' }, body: pullStream } }, async (d, berth) => {
    const r = await berth(['pull', 'busybox']);
    assert.equal(r.code, 0, r.err);
    assert.equal(d.requests[0]!.method, 'HEAD');
    assert.equal(d.requests[0]!.url, '/_ping');
    const [req] = d.apiRequests();
    assert.equal(req!.method, 'POST');
    assert.equal(req!.url, '/v1.50/images/create?fromImage=docker.io%2Flibrary%2Fbusybox&tag=latest');
    assert.equal(req!.headers['x-registry-auth'], 'e30=');
    assert.equal(
      r.out,
      'Using default tag: latest\n' +
        'latest: Pulling from library/busybox\n' +
        '9ad63333ebc9: Pull complete\n' +
        'Digest: sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7\n' +
        'Status: Downloaded newer image for busybox:latest\n' +
        'docker.io/library/busybox:latest\n',
    );
  });
});

test('pull from a registry with stored credentials sends them; older daemons get their API version', async () => {
  await withDaemon(
    { 'POST /images/create': { body: '' } },
    async (d, berth) => {
      const configDir = path.join(d.dir, 'docker-config');
      fs.mkdirSync(configDir);
      fs.writeFileSync(path.join(configDir, 'config.json'), JSON.stringify({ auths: { '127.0.0.1:5000': { auth: Buffer.from('u:p').toString('base64') } } }));
      const r = await berth(['pull', '-q', '127.0.0.1:5000/app@sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7']);
      assert.equal(r.code, 0, r.err);
      const [req] = d.apiRequests();
      assert.equal(
        req!.url,
        '/v1.41/images/create?fromImage=127.0.0.1%3A5000%2Fapp&tag=sha256%3A9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7',
      );
      const auth = JSON.parse(Buffer.from(String(req!.headers['x-registry-auth']), 'base64').toString()) as unknown;
      assert.deepEqual(auth, { username: 'u', password: 'p', serveraddress: '127.0.0.1:5000' });
      assert.equal(r.out, '127.0.0.1:5000/app@sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7\n');
    },
    '1.41',
  );
});

test('tag and push send docker\'s paths and queries', async () => {
  await withDaemon({ 'POST /images/busybox/tag': { status: 201 }, 'POST /images/127.0.0.1:5000/busybox/push': { body: '{"status":"spy: digest: sha256:1 size: 527"}\n' } }, async (d, berth) => {
    assert.equal((await berth(['tag', 'busybox', '127.0.0.1:5000/busybox:spy'])).code, 0);
    const r = await berth(['push', '127.0.0.1:5000/busybox:spy']);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(
      d.apiRequests().map((q) => `${q.method} ${q.url}`),
      ['POST /v1.50/images/busybox/tag?repo=127.0.0.1%3A5000%2Fbusybox&tag=spy', 'POST /v1.50/images/127.0.0.1:5000/busybox/push?tag=spy'],
    );
    assert.equal(r.out, 'spy: digest: sha256:1 size: 527\n');
  });
});

test('images: filters, -a, default table', async () => {
  const created = Math.floor(Date.now() / 1000) - 3 * 3600;
  const images = [
    { Id: 'sha256:6d3e4188a38af91b0c1577b9e88c53368926b2fe0e1fb985d6e8a70040520c4d', RepoTags: ['busybox:latest'], RepoDigests: [], Created: created, Size: 4261550 },
    { Id: 'sha256:aaaa4188a38af91b0c1577b9e88c53368926b2fe0e1fb985d6e8a70040520c4d', RepoTags: [], RepoDigests: [], Created: created, Size: 0 },
  ];
  await withDaemon({ 'GET /images/json': { json: images } }, async (d, berth) => {
    const r = await berth(['images', '-a', '-f', 'dangling=false', 'busybox']);
    assert.equal(r.code, 0, r.err);
    assert.equal(d.apiRequests()[0]!.url, '/v1.50/images/json?all=1&filters=%7B%22dangling%22%3A%7B%22false%22%3Atrue%7D%2C%22reference%22%3A%7B%22busybox%22%3Atrue%7D%7D');
    assert.equal(
      r.out,
      'REPOSITORY   TAG       IMAGE ID       CREATED       SIZE\n' +
        'busybox      latest    6d3e4188a38a   3 hours ago   4.26MB\n' +
        '<none>       <none>    aaaa4188a38a   3 hours ago   0B\n',
    );
    const q = await berth(['image', 'ls', '-q', '--no-trunc']);
    assert.equal(q.out, `${images[0]!.Id}\n${images[1]!.Id}\n`);
  });
});

test('rmi: daemon errors print as docker does and exit 1', async () => {
  await withDaemon(
    {
      'DELETE /images/busybox': { json: [{ Untagged: 'busybox:latest' }, { Deleted: 'sha256:6d3e' }] },
      'DELETE /images/nope': { status: 404, json: { message: 'No such image: nope:latest' } },
    },
    async (d, berth) => {
      const r = await berth(['rmi', 'busybox', 'nope']);
      assert.equal(r.code, 1);
      assert.equal(r.out, 'Untagged: busybox:latest\nDeleted: sha256:6d3e\n');
      assert.equal(r.err, 'Error response from daemon: No such image: nope:latest\n');
      assert.equal(d.apiRequests()[0]!.url, '/v1.50/images/busybox');
      const f = await berth(['rmi', '-f', '--no-prune', 'nope']);
      assert.equal(f.code, 0);
      assert.equal(d.apiRequests()[2]!.url, '/v1.50/images/nope?force=1&noprune=1');
    },
  );
});

test('load streams the archive with docker\'s query and content type', async () => {
  await withDaemon(
    { 'POST /images/load': { headers: { 'Content-Type': 'application/json' }, body: '{"stream":"Loaded image: busybox:latest\\n"}\n' } },
    async (d, berth) => {
      const file = path.join(d.dir, 'img.tar');
      fs.writeFileSync(file, Buffer.alloc(2048, 7));
      const r = await berth(['load', '-i', file]);
      assert.equal(r.code, 0, r.err);
      const [req] = d.apiRequests();
      assert.equal(req!.url, '/v1.50/images/load?quiet=1');
      assert.equal(req!.headers['content-type'], 'application/x-tar');
      assert.equal(req!.body.length, 2048);
      assert.equal(r.out, 'Loaded image: busybox:latest\n');
    },
  );
});

test('import sends fromSrc and repo as docker does; prune asks first', async () => {
  await withDaemon(
    {
      'POST /images/create': { body: '{"status":"sha256:abc"}\n' },
      'POST /images/prune': { json: { ImagesDeleted: [{ Deleted: 'sha256:abc' }], SpaceReclaimed: 4261550 } },
    },
    async (d, berth) => {
      const r = await berth(['import', '-m', 'hi', '-c', 'CMD ["sh"]', '-', 'app:v1'], 'tar-bytes');
      assert.equal(r.code, 0, r.err);
      assert.equal(d.apiRequests()[0]!.url, '/v1.50/images/create?changes=CMD+%5B%22sh%22%5D&fromSrc=-&message=hi&repo=app%3Av1&tag=');
      assert.equal(d.apiRequests()[0]!.body.toString(), 'tar-bytes');
      assert.equal(r.out, 'sha256:abc\n');
      const declined = await berth(['image', 'prune'], 'n\n');
      assert.equal(declined.code, 0);
      assert.equal(d.apiRequests().length, 1, 'declined prune sends nothing');
      const p = await berth(['image', 'prune', '-a'], 'y\n');
      assert.equal(p.code, 0, p.err);
      assert.equal(d.apiRequests()[1]!.url, '/v1.50/images/prune?filters=%7B%22dangling%22%3A%7B%22false%22%3Atrue%7D%7D');
      assert.match(p.out, /\[y\/N\] Deleted Images:\ndeleted: sha256:abc\n\nTotal reclaimed space: 4.262MB\n$/);
    },
  );
});

test('login posts to /auth and stores the credentials; logout removes them', async () => {
  await withDaemon({ 'POST /auth': { json: { Status: 'Login Succeeded' } } }, async (d, berth) => {
    const r = await berth(['login', '-u', 'user', '--password-stdin', '127.0.0.1:5000'], 'secret\n');
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'Login Succeeded\n');
    const [req] = d.apiRequests();
    assert.equal(req!.url, '/v1.50/auth');
    assert.deepEqual(JSON.parse(req!.body.toString()), { username: 'user', password: 'secret', serveraddress: '127.0.0.1:5000' });
    const file = path.join(d.dir, 'docker-config', 'config.json');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as { auths: Record<string, { auth: string }> };
    assert.equal(doc.auths['127.0.0.1:5000']!.auth, Buffer.from('user:secret').toString('base64'));
    const out = await berth(['logout', '127.0.0.1:5000']);
    assert.equal(out.out, 'Removing login credentials for 127.0.0.1:5000\n');
    assert.deepEqual((JSON.parse(fs.readFileSync(file, 'utf8')) as { auths: object }).auths, {});
  });
});

test('usage errors exit 125, wrong argument counts 1, help 0; no daemon gives the connect message', async () => {
  await withDaemon({}, async (_d, berth) => {
    assert.equal((await berth(['images', '--bogus'])).code, 125);
    assert.equal((await berth(['tag', 'only-one'])).code, 1);
    assert.equal((await berth(['images', '--help'])).code, 0);
  });
  const io = testIo({});
  const code = await run(['-H', 'unix:///nonexistent/berth.sock', 'images'], io);
  assert.equal(code, 1);
  assert.equal(io.stderr.text, 'Cannot connect to the berth daemon at unix:///nonexistent/berth.sock. Is the berth daemon running?\n');
});

test('save refuses a terminal; template errors exit 1', async () => {
  await withDaemon({ 'GET /images/json': { json: [] } }, async (_d, berth) => {
    const bad = await berth(['images', '--format', '{{.Nope}}']);
    assert.equal(bad.code, 0, 'no rows, nothing executed');
    const parse = await berth(['images', '--format', '{{if}}']);
    assert.equal(parse.code, 1);
    assert.match(parse.err, /^template parsing error: template: :1: missing value for if\n$/);
  });
  const io = testIo({ DOCKER_HOST: 'unix:///nonexistent.sock' });
  io.stdout.isTTY = true;
  assert.equal(await run(['save', 'busybox'], io), 1);
  assert.equal(io.stderr.text, 'cowardly refusing to save to a terminal. Use the -o flag or redirect\n');
});

test('builder prune asks first, then sends docker\'s filters; a bad filter is refused', async () => {
  await withDaemon({ 'POST /build/prune': { json: { CachesDeleted: ['abc'], SpaceReclaimed: 2048 } } }, async (d, berth) => {
    const declined = await berth(['builder', 'prune'], 'n\n');
    assert.equal(declined.code, 0, declined.err);
    assert.equal(d.apiRequests().length, 0, 'nothing is sent when the answer is no');
    const r = await berth(['builder', 'prune', '-a', '--filter', 'until=24h'], 'y\n');
    assert.equal(r.code, 0, r.err);
    assert.equal(d.apiRequests()[0]!.url, '/v1.50/build/prune?all=1&filters=%7B%22until%22%3A%7B%2224h%22%3Atrue%7D%7D');
    const forced = await berth(['builder', 'prune', '-f']);
    assert.equal(forced.code, 0, forced.err);
    assert.equal(d.apiRequests()[1]!.url, '/v1.50/build/prune');
    const bad = await berth(['builder', 'prune', '-f', '--filter', 'bad']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /bad format of filter \(expected name=value\)/);
  });
});
