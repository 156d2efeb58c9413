/**
 * The builder's file handling through the real docker CLI: ADD of local archives, a context with whiteout-like
 * names, COPY --from an image whose layers hold whiteouts and opaque dirs, MAINTAINER/HEALTHCHECK metadata and the
 * exit code of a failing RUN.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BuildFixture, startBuildFixture } from '../support/build-fixture.js';

let fx: BuildFixture;

function sh(cmd: string, cwd: string): void {
  const r = spawnSync('sh', ['-c', cmd], { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

before(async () => {
  fx = await startBuildFixture('berth-build-files-');
});

after(async () => {
  await fx?.stop();
});

test('ADD unpacks local tar archives by content (plain, gzip, bzip2, xz), keeps owners or applies --chown, ignores whiteout names', async () => {
  const dir = await fx.context('add-archive', {
    Dockerfile: [
      'FROM busybox',
      'RUN mkdir -p /plain && echo keep > /plain/victim',
      'ADD plain.tar /plain/',
      'ADD data.tgz /gz',
      'ADD data.tbz /bz/',
      'ADD --chown=nobody:nogroup data.txz /xz/',
      'ADD notatar.tar.gz /raw/',
      'COPY data.tgz /copied/',
    ].join('\n'),
  });
  const src = join(fx.work, 'archive-src');
  await mkdir(join(src, 'sub'), { recursive: true });
  await writeFile(join(src, 'sub/hello.txt'), 'hello from tar\n');
  await writeFile(join(src, '.wh.victim'), '');
  await chmod(join(src, 'sub/hello.txt'), 0o640);
  sh(`tar --owner=123 --group=456 -cf ${dir}/plain.tar .wh.victim sub`, src);
  sh(`tar --owner=123 --group=456 -czf ${dir}/data.tgz sub`, src);
  sh(`tar --owner=123 --group=456 -cjf ${dir}/data.tbz sub`, src);
  sh(`tar --owner=123 --group=456 -cJf ${dir}/data.txz sub`, src);
  await writeFile(join(dir, 'notatar.tar.gz'), 'just text\n');

  const built = await fx.docker(['build', '-t', 'add-archive:1', dir]);
  assert.equal(built.code, 0, built.stderr + built.stdout);
  const check = [
    'cat /plain/victim /plain/sub/hello.txt /gz/sub/hello.txt /bz/sub/hello.txt /xz/sub/hello.txt /raw/notatar.tar.gz',
    'stat -c "%u:%g %a" /gz/sub/hello.txt /xz/sub/hello.txt',
    'ls -a /plain | tr "\\n" " "',
    'ls /copied',
  ].join('; echo; ');
  const run = await fx.docker(['run', '--rm', 'add-archive:1', 'sh', '-c', check]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(
    run.stdout,
    'keep\nhello from tar\nhello from tar\nhello from tar\nhello from tar\njust text\n\n123:456 640\n65534:65534 640\n\n. .. sub victim \ndata.tgz\n',
  );
});

test('the build context is unpacked as plain files: .wh. names, modes, mtimes and symlinks survive', async () => {
  const dir = await fx.context('ctx-plain', {
    Dockerfile: 'FROM busybox\nCOPY .wh.marker /data/marker\nCOPY tool.sh /data/\nCOPY bin /data/bin\n',
    '.wh.marker': 'not a whiteout\n',
    'tool.sh': '#!/bin/sh\necho tool\n',
  });
  await chmod(join(dir, 'tool.sh'), 0o750);
  const mtime = new Date('2020-01-02T03:04:05Z');
  await utimes(join(dir, 'tool.sh'), mtime, mtime);
  await mkdir(join(dir, 'bin'));
  await symlink('../tool.sh', join(dir, 'bin/link'));
  const built = await fx.docker(['build', '-t', 'ctx-plain:1', dir]);
  assert.equal(built.code, 0, built.stderr + built.stdout);
  const run = await fx.docker(['run', '--rm', 'ctx-plain:1', 'sh', '-c', 'cat /data/marker; stat -c "%a %Y" /data/tool.sh; readlink /data/bin/link']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, `not a whiteout\n750 ${mtime.getTime() / 1000}\n../tool.sh\n`);
});

test('COPY --from an image with whiteouts and opaque dirs copies the merged view', async () => {
  const dir = await fx.context('from-whiteouts', {
    Dockerfile: [
      'FROM busybox AS src',
      'RUN mkdir -p /d/sub && echo a > /d/a && echo b > /d/b && echo old > /d/sub/old',
      'RUN rm /d/a && rm -rf /d/sub && mkdir /d/sub && echo new > /d/sub/new',
      'FROM busybox',
      'COPY --from=src /d /out',
      'RUN find /out | sort | tr "\\n" " " > /listing',
    ].join('\n'),
  });
  const built = await fx.docker(['build', '-t', 'from-wh:1', dir]);
  assert.equal(built.code, 0, built.stderr + built.stdout);
  const run = await fx.docker(['run', '--rm', 'from-wh:1', 'cat', '/listing']);
  assert.equal(run.stdout, '/out /out/b /out/sub /out/sub/new ');
});

test('MAINTAINER sets the Author; HEALTHCHECK history is written as Docker\'s Go formatting', async () => {
  const dir = await fx.context('meta', {
    Dockerfile: 'FROM busybox\nMAINTAINER Jane Doe <jane@example.com>\nHEALTHCHECK --interval=30s --retries=3 CMD wget -q localhost || exit 1\n',
  });
  const built = await fx.docker(['build', '-t', 'meta:1', dir]);
  assert.equal(built.code, 0, built.stderr + built.stdout);
  const author = await fx.docker(['image', 'inspect', '--format', '{{.Author}}', 'meta:1']);
  assert.equal(author.stdout, 'Jane Doe <jane@example.com>\n');
  const history = await fx.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'meta:1']);
  const lines = history.stdout.split('\n');
  assert.equal(lines[0], `/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "wget -q localhost || exit 1"] "30s" "0s" "0s" "0s" '\\x03'}`);
  assert.equal(lines[1], '/bin/sh -c #(nop)  MAINTAINER Jane Doe <jane@example.com>');
});

test('a failing RUN: the docker CLI exits with the command\'s own code and prints Docker\'s message last', async () => {
  const dir = await fx.context('fail-code', { Dockerfile: 'FROM busybox\nRUN echo about to fail && exit 42\n' });
  const res = await fx.docker(['build', '--force-rm', dir]);
  assert.equal(res.code, 42, res.stderr + res.stdout);
  assert.match(res.stdout, /about to fail\n/);
  const lines = res.stderr.trimEnd().split('\n');
  assert.equal(lines[lines.length - 1], "The command '/bin/sh -c echo about to fail && exit 42' returned a non-zero code: 42");
});
