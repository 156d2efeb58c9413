import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../support/berthd.js';
import { type BuildFixture, startBuildFixture } from '../support/build-fixture.js';

let fx: BuildFixture;

async function containerCount(): Promise<number> {
  const ps = await fx.docker(['ps', '-aq']);
  return ps.stdout.split('\n').filter(Boolean).length;
}

before(async () => {
  fx = await startBuildFixture('berth-build-');
});

after(async () => {
  await fx?.stop();
});

const MULTI = `FROM busybox AS builder
ARG GREETING=hello
RUN mkdir -p /out && echo "$GREETING from builder" > /out/msg && echo built
FROM busybox
LABEL org.example.kind=test
ENV APP_HOME=/app
WORKDIR $APP_HOME
COPY --from=builder /out/msg ./msg
COPY --chown=nobody:nogroup data.txt /app/
CMD ["cat", "/app/msg"]
`;

test('a multi-stage build through the docker CLI runs, with history, labels, env, cmd, files and owners', async () => {
  const dir = await fx.context('multi', { Dockerfile: MULTI, 'data.txt': 'payload\n' });
  const built = await fx.docker(['build', '-t', 'multi:1', '--build-arg', 'GREETING=hi', dir]);
  assert.equal(built.code, 0, built.stderr + built.stdout);
  assert.match(built.stdout, /Step 1\/10 : FROM busybox AS builder\n/);
  assert.match(built.stdout, /---> Running in [0-9a-f]{12}\n(.*\n)*built\n/);
  assert.match(built.stdout, /Successfully built [0-9a-f]{12}\nSuccessfully tagged multi:1\n/);

  const run = await fx.docker(['run', '--rm', 'multi:1']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'hi from builder\n');

  const inspect = JSON.parse((await fx.docker(['image', 'inspect', 'multi:1'])).stdout) as Array<{
    Config: { Env: string[]; Cmd: string[]; Labels: Record<string, string>; WorkingDir: string };
  }>;
  const cfg = inspect[0].Config;
  assert.ok(cfg.Env.includes('APP_HOME=/app'));
  assert.deepEqual(cfg.Cmd, ['cat', '/app/msg']);
  assert.equal(cfg.Labels['org.example.kind'], 'test');
  assert.equal(cfg.WorkingDir, '/app');

  const owner = await fx.docker(['run', '--rm', 'multi:1', 'sh', '-c', 'stat -c "%U:%G %a" /app/data.txt; cat /app/data.txt']);
  assert.equal(owner.stdout, 'nobody:nogroup 644\npayload\n');

  const history = await fx.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'multi:1']);
  const lines = history.stdout.split('\n').filter(Boolean);
  assert.equal(lines[0], '/bin/sh -c #(nop)  CMD ["cat" "/app/msg"]');
  assert.match(lines[1], /^\/bin\/sh -c #\(nop\) COPY --chown=nobody:nogroup file:[0-9a-f]{64} in \/app\/ $/);
  assert.equal(lines[4], '/bin/sh -c #(nop)  ENV APP_HOME=/app');
  assert.equal(lines[5], '/bin/sh -c #(nop)  LABEL org.example.kind=test');
});

test('an unchanged rebuild takes every step from the cache and creates no container; a changed file invalidates from its COPY on', async () => {
  const dir = await fx.context('cached', {
    Dockerfile: 'FROM busybox\nRUN echo one > /one\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy\nENV X=1\n',
    'a.txt': 'first\n',
  });
  const first = await fx.docker(['build', '-t', 'cached:1', dir]);
  assert.equal(first.code, 0, first.stderr + first.stdout);
  const before = await containerCount();
  const again = await fx.docker(['build', '-t', 'cached:1', dir]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout.match(/ ---> Using cache\n/g)?.length, 4, again.stdout);
  assert.doesNotMatch(again.stdout, /Running in/);
  assert.equal(await containerCount(), before);
  const idOf = (out: string): string => /Successfully built ([0-9a-f]{12})/.exec(out)![1];
  assert.equal(idOf(again.stdout), idOf(first.stdout));

  await writeFile(join(dir, 'a.txt'), 'second\n');
  const changed = await fx.docker(['build', '-t', 'cached:1', dir]);
  assert.equal(changed.code, 0, changed.stderr);
  assert.equal(changed.stdout.match(/ ---> Using cache\n/g)?.length, 1, changed.stdout);
  const out = await fx.docker(['run', '--rm', 'cached:1', 'cat', '/copy']);
  assert.equal(out.stdout, 'second\n');

  const nocache = await fx.docker(['build', '--no-cache', '-t', 'cached:1', dir]);
  assert.equal(nocache.code, 0, nocache.stderr);
  assert.doesNotMatch(nocache.stdout, /Using cache/);
});

test('a failing RUN reports Docker\'s message and exit code; a missing COPY source is named', async () => {
  const failing = await fx.context('failing', { Dockerfile: 'FROM busybox\nRUN exit 3\n' });
  const res = await fx.docker(['build', '--force-rm', failing]);
  assert.notEqual(res.code, 0);
  assert.match(res.stderr, /The command '\/bin\/sh -c exit 3' returned a non-zero code: 3/);

  const missing = await fx.context('missing', { Dockerfile: 'FROM busybox\nCOPY nothere.txt /x\n' });
  const m = await fx.docker(['build', missing]);
  assert.notEqual(m.code, 0);
  assert.match(m.stderr, /COPY failed: file not found in build context or excluded by \.dockerignore: stat nothere\.txt: file does not exist/);
});

test('.dockerignore excludes files from COPY, --target stops at a stage, -q prints only the ID', async () => {
  const dir = await fx.context('ignore', {
    Dockerfile: 'FROM busybox AS base\nCOPY . /ctx/\nFROM base AS second\nRUN touch /second\n',
    '.dockerignore': 'secret.txt\nlogs\n',
    'keep.txt': 'kept\n',
    'secret.txt': 'no\n',
    'logs/a.log': 'no\n',
  });
  const built = await fx.docker(['build', '-q', '--target', 'base', '-t', 'ignore:1', dir]);
  assert.equal(built.code, 0, built.stderr + built.stdout);
  assert.match(built.stdout, /^sha256:[0-9a-f]{64}\n$/, JSON.stringify(built));
  const ls = await fx.docker(['run', '--rm', 'ignore:1', 'sh', '-c', 'ls -a /ctx | sort | tr "\\n" " "; test -e /second && echo second']);
  assert.equal(ls.stdout, '. .. .dockerignore Dockerfile keep.txt ');
});

test('berth build: build args reach RUN (and its history), --iidfile, a failing RUN exits with its code; builder prune', async () => {
  const dir = await fx.context('berth', { Dockerfile: 'FROM busybox\nARG WHO\nRUN echo "hello $WHO" > /greeting\n', 'fail/Dockerfile': 'FROM busybox\nRUN exit 5\n' });
  const iid = join(fx.work, 'iid');
  const built = await runCli('berth', ['build', '--build-arg', 'WHO=berth', '--iidfile', iid, '-t', 'berth-built', dir], fx.daemon);
  assert.equal(built.code, 0, built.stderr + built.stdout);
  assert.match(built.stdout, /Step 3\/3 : RUN echo "hello \$WHO" > \/greeting\n ---> Running in /);
  const id = (await import('node:fs/promises')).readFile(iid, 'utf8');
  assert.match(await id, /^sha256:[0-9a-f]{64}$/);
  const out = await fx.docker(['run', '--rm', 'berth-built', 'cat', '/greeting']);
  assert.equal(out.stdout, 'hello berth\n');
  const history = await fx.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'berth-built']);
  assert.equal(history.stdout.split('\n')[0], '|1 WHO=berth /bin/sh -c echo "hello $WHO" > /greeting');

  const failed = await runCli('berth', ['build', '--force-rm', '-f', join(dir, 'fail/Dockerfile'), dir], fx.daemon);
  assert.equal(failed.code, 5);
  assert.match(failed.stderr, /The command '\/bin\/sh -c exit 5' returned a non-zero code: 5/);

  const prune = await fx.docker(['builder', 'prune', '-f']);
  assert.equal(prune.code, 0, prune.stderr);
  assert.match(prune.stdout, /Total reclaimed space/);
  const rebuilt = await runCli('berth', ['build', '--build-arg', 'WHO=berth', dir], fx.daemon);
  assert.doesNotMatch(rebuilt.stdout, /Using cache/);
});
