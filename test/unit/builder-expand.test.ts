import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDockerfile, parseInstructionLine } from '../../src/builder/dockerfile.js';
import { expandInstruction, expandWord, expandWords } from '../../src/builder/expand.js';
import { BerthError } from '../../src/errors.js';

const env = { FOO: 'foo', EMPTY: '', SPACED: 'a b  c', PATHV: '/usr/local/bin/app.tar.gz' };

function invalid(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BerthError);
    assert.equal(err.code, 'invalid_argument');
    assert.equal(err.message, message);
    return true;
  });
}

describe('expandWord', () => {
  const table: Array<[string, string]> = [
    ['plain', 'plain'],
    ['$FOO', 'foo'],
    ['${FOO}', 'foo'],
    ['x${FOO}y', 'xfooy'],
    ['$FOO.bar', 'foo.bar'],
    ['$FOObar', ''],
    ['$UNSET', ''],
    ['a$', 'a$'],
    ['$ x', '$ x'],
    ['$1', ''],
    ['${FOO:-def}', 'foo'],
    ['${UNSET:-def}', 'def'],
    ['${EMPTY:-def}', 'def'],
    ['${EMPTY-def}', ''],
    ['${UNSET-def}', 'def'],
    ['${FOO:+alt}', 'alt'],
    ['${EMPTY:+alt}', ''],
    ['${EMPTY+alt}', 'alt'],
    ['${UNSET+alt}', ''],
    ['${FOO:?boom}', 'foo'],
    ['${EMPTY?boom}', ''],
    ['${UNSET:-$FOO}', 'foo'],
    ['${UNSET:-"a b"}', 'a b'],
    ['${UNSET:-${FOO}x}', 'foox'],
    ["'$FOO'", '$FOO'],
    ['"$FOO"', 'foo'],
    ['"${FOO} \'q\'"', "foo 'q'"],
    ['\\$FOO', '$FOO'],
    ['"\\$FOO"', '$FOO'],
    ['"a\\"b"', 'a"b'],
    ['"a\\nb"', 'a\\nb'],
    ['"a\\\\b"', 'a\\b'],
    ['a\\ b', 'a b'],
    ['a\\', 'a'],
    ['"a" b \'c\'', 'a b c'],
    ['${PATHV#*/}', 'usr/local/bin/app.tar.gz'],
    ['${PATHV##*/}', 'app.tar.gz'],
    ['${PATHV%.*}', '/usr/local/bin/app.tar'],
    ['${PATHV%%.*}', '/usr/local/bin/app'],
    ['${FOO/o/0}', 'f0o'],
    ['${FOO//o/0}', 'f00'],
    ['${SPACED}', 'a b  c'],
  ];
  for (const [input, want] of table) {
    it(`${input} -> ${JSON.stringify(want)}`, () => assert.equal(expandWord(input, env), want));
  }

  it('takes a Map as the environment', () => {
    assert.equal(expandWord('$A-$B', new Map([['A', '1']])), '1-');
  });

  it('does not see inherited object properties as variables', () => {
    assert.equal(expandWord('${toString:-none}', {}), 'none');
  });

  it('uses the backtick as escape when the directive says so', () => {
    assert.equal(expandWord('`$FOO', env, '`'), '$FOO');
    assert.equal(expandWord('C:\\dir\\$FOO', env, '`'), 'C:\\dir\\foo');
    assert.equal(expandWord('"`"x"', env, '`'), '"x');
  });

  it('reports ${VAR:?} and ${VAR?} errors like Docker', () => {
    invalid(() => expandWord('${UNSET:?}', env), 'failed to process "${UNSET:?}": UNSET: is not allowed to be unset');
    invalid(() => expandWord('${EMPTY:?}', env), 'failed to process "${EMPTY:?}": EMPTY: is not allowed to be empty');
    invalid(() => expandWord('${UNSET?need it}', env), 'failed to process "${UNSET?need it}": UNSET: need it');
  });

  it('reports syntax errors like Docker', () => {
    invalid(() => expandWord('"abc', env), 'failed to process "\\"abc": unexpected end of statement while looking for matching double-quote');
    invalid(() => expandWord("'abc", env), 'failed to process "\'abc": unexpected end of statement while looking for matching single-quote');
    invalid(() => expandWord('${FOO', env), 'failed to process "${FOO": syntax error: missing \'}\'');
    invalid(() => expandWord('${FOO:-x', env), 'failed to process "${FOO:-x": syntax error: missing \'}\'');
    invalid(() => expandWord('${}', env), 'failed to process "${}": syntax error: bad substitution');
    invalid(() => expandWord('${:x}', env), 'failed to process "${:x}": syntax error: bad substitution');
    invalid(() => expandWord('${FOO=x}', env), 'failed to process "${FOO=x}": unsupported modifier (=) in substitution');
    invalid(() => expandWord('${FOO:x}', env), 'failed to process "${FOO:x}": unsupported modifier (:x) in substitution');
  });
});

describe('expandWords', () => {
  it('splits on unquoted whitespace, including whitespace that came from a variable', () => {
    assert.deepEqual(expandWords('$SPACED "x y" z\\ w', env), ['a', 'b', 'c', 'x y', 'z w']);
  });
  it('keeps an empty result out and quoted whitespace in', () => {
    assert.deepEqual(expandWords('  $EMPTY  ', env), []);
    assert.deepEqual(expandWords('"$SPACED"', env), ['a b  c']);
  });
});

describe('expandInstruction', () => {
  const vars = { NAME: 'app', DIR: '/srv', PORT: '8080', MORE: '53/udp 9090', V: 'one two', BASE: 'busybox' };
  const expand = (line: string): unknown => expandInstruction(parseInstructionLine(line), vars);

  it('ENV and LABEL: keys and values expanded, quotes removed', () => {
    assert.deepEqual((expand('ENV A="$NAME x" B=${DIR}/bin') as { pairs: unknown }).pairs, [
      ['A', 'app x'],
      ['B', '/srv/bin'],
    ]);
    assert.deepEqual((expand('LABEL "com.$NAME"=\'$V\'') as { pairs: unknown }).pairs, [['com.app', '$V']]);
    assert.deepEqual((expand('ENV LEGACY the "$NAME" value') as { pairs: unknown }).pairs, [['LEGACY', 'the app value']]);
  });

  it('COPY/ADD: sources, dest and --chown/--chmod/--from', () => {
    const c = expand('COPY --chown=$NAME:$NAME --from=$BASE $NAME.tgz $DIR/') as { sources: string[]; dest: string; flags: Record<string, string> };
    assert.deepEqual(c.sources, ['app.tgz']);
    assert.equal(c.dest, '/srv/');
    assert.deepEqual(c.flags, { chown: 'app:app', from: 'busybox' });
  });

  it('FROM, WORKDIR, USER, VOLUME, STOPSIGNAL, ARG, EXPOSE', () => {
    assert.equal((expand('FROM ${BASE}:1.36') as { image: string }).image, 'busybox:1.36');
    assert.equal((expand('WORKDIR $DIR/$NAME') as { path: string }).path, '/srv/app');
    assert.equal((expand('USER ${NAME}') as { user: string }).user, 'app');
    assert.deepEqual((expand('VOLUME ["$DIR/data", "/x"]') as { paths: string[] }).paths, ['/srv/data', '/x']);
    assert.equal((expand('STOPSIGNAL SIG${X:-TERM}') as { signal: string }).signal, 'SIGTERM');
    assert.deepEqual((expand('ARG A=$NAME B') as { args: unknown }).args, [{ name: 'A', value: 'app' }, { name: 'B' }]);
    assert.deepEqual([...(expand('EXPOSE $PORT $MORE') as { ports: string[] }).ports].sort(), ['53/udp', '8080', '9090']);
  });

  it('never touches RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK or ONBUILD', () => {
    for (const line of ['RUN echo $NAME', 'CMD ["echo", "$NAME"]', 'ENTRYPOINT echo $NAME', 'SHELL ["/bin/$NAME"]', 'HEALTHCHECK CMD echo $NAME', 'ONBUILD WORKDIR $DIR']) {
      const inst = parseInstructionLine(line);
      assert.deepEqual(expandInstruction(inst, vars), inst, line);
    }
  });

  it('does not change the instruction it was given', () => {
    const inst = parseInstructionLine('WORKDIR $DIR');
    expandInstruction(inst, vars);
    assert.equal((inst as { path: string }).path, '$DIR');
  });
});

describe('expandInstruction: COPY heredocs', () => {
  it('expands the body of an unquoted heredoc, keeping its quotes; a quoted one stays literal', () => {
    const inst = parseDockerfile('FROM scratch\nCOPY <<a.sh <<\'b.sh\' /\necho "$NAME" \'x\'\na.sh\necho $NAME\nb.sh\n').stages[0]?.instructions[0];
    assert.ok(inst && inst.kind === 'COPY');
    const out = expandInstruction(inst, { NAME: 'app' });
    assert.deepEqual(out.heredocs?.map((h) => h.content), ['echo "app" \'x\'\n', 'echo $NAME\n']);
  });
});
