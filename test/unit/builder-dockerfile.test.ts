import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Instruction, type InstructionOf, parseDockerfile, parseInstructionLine } from '../../src/builder/dockerfile.js';
import { parseGoDuration } from '../../src/builder/go-duration.js';
import { BerthError } from '../../src/errors.js';

function invalid(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BerthError, String(err));
    assert.equal(err.code, 'invalid_argument');
    assert.equal(err.message, message);
    return true;
  });
}

/** The instructions of the only stage of `FROM scratch\n<body>`. */
function body(text: string): Instruction[] {
  const df = parseDockerfile(`FROM scratch\n${text}`);
  assert.equal(df.stages.length, 1);
  return (df.stages[0] as { instructions: Instruction[] }).instructions;
}

function one<K extends Instruction['kind']>(text: string, kind: K): InstructionOf<K> {
  const insts = body(text);
  assert.equal(insts.length, 1);
  const inst = insts[0] as Instruction;
  assert.equal(inst.kind, kind);
  return inst as InstructionOf<K>;
}

describe('parseDockerfile: structure', () => {
  it('groups instructions into stages, meta ARGs before the first FROM', () => {
    const df = parseDockerfile('ARG V=1\nARG X\nFROM busybox:$V AS Build\nRUN true\nFROM scratch\nCOPY --from=build /a /b\n');
    assert.deepEqual(
      df.metaArgs.map((a) => a.args),
      [[{ name: 'V', value: '1' }], [{ name: 'X' }]],
    );
    assert.equal(df.stages.length, 2);
    const [s0, s1] = df.stages;
    assert.equal(s0?.index, 0);
    assert.equal(s0?.name, 'build');
    assert.equal(s0?.from.image, 'busybox:$V');
    assert.equal(s0?.from.stageName, 'build');
    assert.deepEqual(s0?.instructions.map((i) => i.kind), ['RUN']);
    assert.equal(s1?.index, 1);
    assert.equal(s1?.name, undefined);
    assert.deepEqual(s1?.instructions.map((i) => i.kind), ['COPY']);
  });

  it('records line numbers and the original text', () => {
    const df = parseDockerfile('# comment\n\nFROM scratch\n  run echo a \\\n   b\nENV X=1\n');
    const [run, env] = df.stages[0]?.instructions ?? [];
    assert.equal(df.stages[0]?.from.line, 3);
    assert.equal(run?.line, 4);
    assert.equal(run?.original, 'run echo a    b');
    assert.equal(env?.line, 6);
  });

  it('takes keywords in any case', () => {
    assert.deepEqual(
      body('rUn true\ncmd x\nEnTrYpOiNt y').map((i) => i.kind),
      ['RUN', 'CMD', 'ENTRYPOINT'],
    );
  });

  it('handles CRLF line endings and a byte-order mark', () => {
    const df = parseDockerfile('\uFEFFFROM scratch\r\nRUN a \\\r\n b\r\n');
    const run = df.stages[0]?.instructions[0] as InstructionOf<'RUN'>;
    assert.deepEqual(run.command, { form: 'shell', line: 'a  b' });
  });

  it('errors like Docker for empty and instruction-less files', () => {
    invalid(() => parseDockerfile(''), 'the Dockerfile (Dockerfile) cannot be empty');
    invalid(() => parseDockerfile('', { name: 'Dockerfile.dev' }), 'the Dockerfile (Dockerfile.dev) cannot be empty');
    invalid(() => parseDockerfile('# only a comment\n\n'), 'file with no instructions');
    invalid(() => parseDockerfile('ARG A=1\n'), 'No image was generated. Is your Dockerfile empty?');
    invalid(() => parseDockerfile('RUN true\nFROM scratch\n'), 'no build stage in current context');
  });

  it('names an unknown instruction, with the line', () => {
    invalid(() => parseDockerfile('FROM scratch\n\nFOO bar\n'), 'dockerfile parse error on line 3: unknown instruction: FOO');
  });
});

describe('parseDockerfile: comments and continuations', () => {
  it('skips comment lines inside a continuation and keeps indentation of continued lines', () => {
    const run = one('RUN apt-get update && \\\n# a comment\n    apt-get install -y x\n', 'RUN');
    assert.deepEqual(run.command, { form: 'shell', line: 'apt-get update &&     apt-get install -y x' });
  });

  it('allows blanks after the escape and warns about empty continuation lines', () => {
    const df = parseDockerfile('FROM scratch\nRUN a \\  \n\n  b\n');
    assert.deepEqual((df.stages[0]?.instructions[0] as InstructionOf<'RUN'>).command, { form: 'shell', line: 'a   b' });
    assert.equal(df.warnings.length, 2);
    assert.match(df.warnings[0] as string, /Empty continuation line found in:\n {4}RUN a/);
  });

  it('treats a # in the middle of a line as text', () => {
    assert.deepEqual(one('RUN echo a # not a comment', 'RUN').command, { form: 'shell', line: 'echo a # not a comment' });
  });

  it('an escaped escape at the end of a line does not continue it', () => {
    assert.deepEqual(
      body('RUN echo a\\\\\nUSER x').map((i) => i.kind),
      ['RUN', 'USER'],
    );
    const df = parseDockerfile('# escape=`\nFROM scratch\nRUN echo ``\nUSER x\n');
    assert.deepEqual(df.stages[0]?.instructions.map((i) => i.kind), ['RUN', 'USER']);
  });

  it('a continuation at end of file ends the instruction', () => {
    assert.deepEqual(one('RUN echo a \\', 'RUN').command, { form: 'shell', line: 'echo a' });
  });
});

describe('parseDockerfile: parser directives', () => {
  it('switches the escape character to backtick', () => {
    const df = parseDockerfile('# escape=`\nFROM scratch\nRUN dir C:\\ `\n  /b\nCOPY a\\b c\\\n');
    assert.equal(df.escape, '`');
    const [run, copy] = df.stages[0]?.instructions ?? [];
    assert.deepEqual((run as InstructionOf<'RUN'>).command, { form: 'shell', line: 'dir C:\\   /b' });
    assert.deepEqual((copy as InstructionOf<'COPY'>).sources, ['a\\b']);
    assert.equal((copy as InstructionOf<'COPY'>).dest, 'c\\');
  });

  it('accepts the directive with spaces and any case, and ignores it after the first other line', () => {
    assert.equal(parseDockerfile('#  ESCAPE = `\nFROM scratch\n').escape, '`');
    assert.equal(parseDockerfile('# hello\n# escape=`\nFROM scratch\n').escape, '\\');
    assert.equal(parseDockerfile('\n# escape=`\nFROM scratch\n').escape, '\\');
    assert.equal(parseDockerfile('FROM scratch\n# escape=`\n').escape, '\\');
  });

  it('notes a syntax directive as a warning', () => {
    const df = parseDockerfile('# syntax=docker/dockerfile:1.7\n# escape=\\\nFROM scratch\n');
    assert.equal(df.escape, '\\');
    assert.equal(df.warnings.length, 1);
    assert.match(df.warnings[0] as string, /docker\/dockerfile:1\.7/);
  });

  it('refuses a bad or repeated directive', () => {
    invalid(() => parseDockerfile('# escape=x\nFROM scratch\n'), "invalid escape token 'x' does not match ` or \\");
    invalid(() => parseDockerfile('# escape=`\n# escape=`\nFROM scratch\n'), 'only one escape parser directive can be used');
  });
});

describe('parseDockerfile: FROM', () => {
  it('reads image, stage name and --platform', () => {
    const df = parseDockerfile('FROM --platform=linux/amd64 alpine:3 as My-Stage.1\n');
    const from = df.stages[0]?.from;
    assert.equal(from?.image, 'alpine:3');
    assert.equal(from?.stageName, 'my-stage.1');
    assert.deepEqual(from?.flags, { platform: 'linux/amd64' });
  });

  it('refuses bad shapes with Docker messages', () => {
    invalid(() => parseDockerfile('FROM a b\n'), 'dockerfile parse error on line 1: FROM requires either one or three arguments');
    invalid(() => parseDockerfile('FROM\n'), 'dockerfile parse error on line 1: FROM requires either one or three arguments');
    invalid(
      () => parseDockerfile('FROM a AS 1st\n'),
      'dockerfile parse error on line 1: invalid name for build stage: "1st", name can\'t start with a number or contain symbols',
    );
    invalid(() => parseDockerfile('FROM --foo=bar a\n'), 'dockerfile parse error on line 1: Unknown flag: foo');
    invalid(() => parseDockerfile('FROM --platform a\n'), 'dockerfile parse error on line 1: Missing a value on flag: platform');
    invalid(() => parseDockerfile('FROM a AS x\nFROM b AS X\n'), 'x stage name already used');
  });
});

describe('parseDockerfile: RUN / CMD / ENTRYPOINT / SHELL', () => {
  it('exec form is a JSON string array, anything else shell form', () => {
    assert.deepEqual(one('RUN ["echo", "a b"]', 'RUN').command, { form: 'exec', args: ['echo', 'a b'] });
    assert.deepEqual(one('CMD ["sh"]', 'CMD').command, { form: 'exec', args: ['sh'] });
    assert.deepEqual(one('CMD []', 'CMD').command, { form: 'exec', args: [] });
    assert.deepEqual(one("CMD ['sh']", 'CMD').command, { form: 'shell', line: "['sh']" });
    assert.deepEqual(one('ENTRYPOINT [not json', 'ENTRYPOINT').command, { form: 'shell', line: '[not json' });
    assert.deepEqual(one('ENTRYPOINT exec top -b', 'ENTRYPOINT').command, { form: 'shell', line: 'exec top -b' });
  });

  it('refuses a JSON array with something else than strings', () => {
    invalid(() => parseDockerfile('FROM scratch\nCMD ["a", 1]\n'), 'when using JSON array syntax, arrays must be comprised of strings only');
  });

  it('keeps RUN --network/--security/--mount raw and refuses other flags', () => {
    const run = one('RUN --network=none --mount=type=cache,target=/a --mount=type=tmpfs,target=/b true', 'RUN');
    assert.deepEqual(run.flags, { network: 'none', mount: 'type=cache,target=/a\ntype=tmpfs,target=/b' });
    assert.deepEqual(run.command, { form: 'shell', line: 'true' });
    invalid(() => body('RUN --privileged true'), 'dockerfile parse error on line 2: Unknown flag: privileged');
    invalid(() => body('CMD --help'), 'dockerfile parse error on line 2: Unknown flag: help');
  });

  it('a bare -- ends the flags', () => {
    assert.deepEqual(one('RUN -- --not-a-flag', 'RUN').command, { form: 'shell', line: '--not-a-flag' });
  });

  it('SHELL must be a non-empty JSON array', () => {
    assert.deepEqual(one('SHELL ["/bin/bash", "-c"]', 'SHELL').shell, ['/bin/bash', '-c']);
    invalid(() => body('SHELL /bin/bash -c'), 'dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form');
    invalid(() => body('SHELL []'), 'dockerfile parse error on line 2: SHELL requires at least one argument');
  });
});

describe('parseDockerfile: ENV / LABEL / ARG', () => {
  it('key=value pairs keep their quotes until expansion', () => {
    assert.deepEqual(one('ENV A=1 B="x y" C=\'z\' D=a\\ b E=', 'ENV').pairs, [
      ['A', '1'],
      ['B', '"x y"'],
      ['C', "'z'"],
      ['D', 'a\\ b'],
      ['E', ''],
    ]);
    assert.deepEqual(one('LABEL "com.example.v"="1.0" x=y', 'LABEL').pairs, [
      ['"com.example.v"', '"1.0"'],
      ['x', 'y'],
    ]);
  });

  it('legacy form: name then the rest of the line', () => {
    assert.deepEqual(one('ENV PATH /usr/bin:/bin   and more', 'ENV').pairs, [['PATH', '/usr/bin:/bin   and more']]);
    assert.deepEqual(one('LABEL maintainer someone', 'LABEL').pairs, [['maintainer', 'someone']]);
  });

  it('refuses malformed pairs with Docker messages', () => {
    invalid(() => body('ENV A'), 'ENV must have two arguments');
    invalid(() => body('ENV A=1 B'), 'Syntax error - can\'t find = in "B". Must be of the form: name=value');
    invalid(() => body('LABEL =x'), 'dockerfile parse error on line 2: LABEL names can not be blank');
    invalid(() => body('ENV'), 'dockerfile parse error on line 2: ENV requires at least one argument');
  });

  it('ARG: several names, with and without defaults', () => {
    assert.deepEqual(one('ARG A B=2 C="x y" D=', 'ARG').args, [
      { name: 'A' },
      { name: 'B', value: '2' },
      { name: 'C', value: '"x y"' },
      { name: 'D', value: '' },
    ]);
    invalid(() => body('ARG'), 'dockerfile parse error on line 2: ARG requires at least one argument');
    invalid(() => body('ARG =1'), 'dockerfile parse error on line 2: ARG names can not be blank');
  });
});

describe('parseDockerfile: COPY / ADD', () => {
  it('sources and destination, shell and JSON form', () => {
    const c = one('COPY a b* /dst/', 'COPY');
    assert.deepEqual(c.sources, ['a', 'b*']);
    assert.equal(c.dest, '/dst/');
    const j = one('COPY ["with space", "/d st/"]', 'COPY');
    assert.deepEqual(j.sources, ['with space']);
    assert.equal(j.dest, '/d st/');
  });

  it('flags: --from --chown --chmod --link on COPY; --checksum --keep-git-dir on ADD', () => {
    assert.deepEqual(one('COPY --from=build --chown=1:2 --chmod=644 --link a b', 'COPY').flags, {
      from: 'build',
      chown: '1:2',
      chmod: '644',
      link: 'true',
    });
    assert.deepEqual(one('ADD --checksum=sha256:abc --keep-git-dir=false http://x/a /a', 'ADD').flags, {
      checksum: 'sha256:abc',
      'keep-git-dir': 'false',
    });
    assert.deepEqual(one('COPY --chown="a b" x y', 'COPY').flags, { chown: 'a b' });
    assert.deepEqual(one('COPY "--chown=a" x y', 'COPY').sources, ['"--chown=a"', 'x']);
    invalid(() => body('ADD --from=x a b'), 'dockerfile parse error on line 2: Unknown flag: from');
    invalid(() => body('COPY --link=maybe a b'), 'dockerfile parse error on line 2: Expecting boolean value for flag link, not: maybe');
    invalid(() => body('COPY --from=a --from=b a b'), 'dockerfile parse error on line 2: Duplicate flag specified: from');
  });

  it('needs a destination', () => {
    const msg = (cmd: string): string =>
      `dockerfile parse error on line 2: ${cmd} requires at least two arguments, but only one was provided. Destination could not be determined`;
    invalid(() => body('COPY a'), msg('COPY'));
    invalid(() => body('ADD ["a"]'), msg('ADD'));
    invalid(() => body('COPY'), msg('COPY'));
  });
});

describe('parseDockerfile: the single-argument instructions', () => {
  it('USER, WORKDIR, STOPSIGNAL, MAINTAINER take the rest of the line', () => {
    assert.equal(one('USER app:app', 'USER').user, 'app:app');
    assert.equal(one('WORKDIR /a b', 'WORKDIR').path, '/a b');
    assert.equal(one('STOPSIGNAL SIGKILL', 'STOPSIGNAL').signal, 'SIGKILL');
    assert.equal(one('MAINTAINER Jane Doe <jane@example.com>', 'MAINTAINER').name, 'Jane Doe <jane@example.com>');
    invalid(() => body('USER'), 'dockerfile parse error on line 2: USER requires exactly one argument');
    invalid(() => body('WORKDIR'), 'dockerfile parse error on line 2: WORKDIR requires exactly one argument');
  });

  it('EXPOSE and VOLUME lists', () => {
    assert.deepEqual(one('EXPOSE 80/tcp 53/udp', 'EXPOSE').ports, ['53/udp', '80/tcp']);
    assert.deepEqual(one('VOLUME /a /b', 'VOLUME').paths, ['/a', '/b']);
    assert.deepEqual(one('VOLUME ["/a b"]', 'VOLUME').paths, ['/a b']);
    invalid(() => body('EXPOSE'), 'dockerfile parse error on line 2: EXPOSE requires at least one argument');
    invalid(() => body('VOLUME []'), 'dockerfile parse error on line 2: VOLUME requires at least one argument');
    invalid(() => body('VOLUME [" "]'), 'dockerfile parse error on line 2: VOLUME specified can not be an empty string');
  });
});

describe('parseDockerfile: HEALTHCHECK', () => {
  it('CMD shell form with every option, durations in ns', () => {
    const h = one('HEALTHCHECK --interval=30s --timeout=1m30s --start-period=500ms --start-interval=2s --retries=4 CMD curl -f http://localhost/ || exit 1', 'HEALTHCHECK');
    assert.deepEqual(h.test, ['CMD-SHELL', 'curl -f http://localhost/ || exit 1']);
    assert.equal(h.interval, 30e9);
    assert.equal(h.timeout, 90e9);
    assert.equal(h.startPeriod, 500e6);
    assert.equal(h.startInterval, 2e9);
    assert.equal(h.retries, 4);
  });

  it('CMD exec form, NONE, and unset options stay unset', () => {
    const h = one('HEALTHCHECK cmd ["/bin/check", "-q"]', 'HEALTHCHECK');
    assert.deepEqual(h.test, ['CMD', '/bin/check', '-q']);
    assert.equal(h.interval, undefined);
    assert.equal(h.retries, undefined);
    assert.equal(one('HEALTHCHECK NONE', 'HEALTHCHECK').test, null);
  });

  it('refuses what Docker refuses', () => {
    const p = 'dockerfile parse error on line 2: ';
    invalid(() => body('HEALTHCHECK'), `${p}HEALTHCHECK requires at least one argument`);
    invalid(() => body('HEALTHCHECK NONE x'), `${p}HEALTHCHECK NONE takes no arguments`);
    invalid(() => body('HEALTHCHECK CHECK x'), `${p}Unknown type "CHECK" in HEALTHCHECK (try CMD)`);
    invalid(() => body('HEALTHCHECK CMD []'), `${p}Missing command after HEALTHCHECK CMD`);
    invalid(() => body('HEALTHCHECK --interval=10 CMD x'), `${p}time: missing unit in duration "10"`);
    invalid(() => body('HEALTHCHECK --interval=1us CMD x'), `${p}Interval "interval" cannot be less than 1ms`);
    invalid(() => body('HEALTHCHECK --retries=-1 CMD x'), `${p}--retries cannot be negative (-1)`);
    invalid(() => body('HEALTHCHECK --retries=x CMD x'), `${p}strconv.ParseInt: parsing "x": invalid syntax`);
    invalid(() => body('HEALTHCHECK --foo=1 CMD x'), `${p}Unknown flag: foo`);
  });
});

describe('parseDockerfile: ONBUILD', () => {
  it('parses the trigger and keeps its text for the image config', () => {
    const o = one('ONBUILD   COPY --chown=1 . /app', 'ONBUILD');
    assert.equal(o.trigger.kind, 'COPY');
    assert.equal(o.trigger.original, 'COPY --chown=1 . /app');
    assert.deepEqual(o.trigger.flags, { chown: '1' });
  });

  it('refuses ONBUILD, FROM and MAINTAINER as triggers', () => {
    const p = 'dockerfile parse error on line 2: ';
    invalid(() => body('ONBUILD ONBUILD RUN x'), `${p}Chaining ONBUILD via \`ONBUILD ONBUILD\` isn't allowed`);
    invalid(() => body('ONBUILD from x'), `${p}FROM isn't allowed as an ONBUILD trigger`);
    invalid(() => body('ONBUILD MAINTAINER me'), `${p}MAINTAINER isn't allowed as an ONBUILD trigger`);
    invalid(() => body('ONBUILD'), `${p}ONBUILD requires at least one argument`);
  });
});

describe('parseInstructionLine', () => {
  it('reads a stored ONBUILD trigger back, without a line prefix on errors', () => {
    const i = parseInstructionLine('RUN echo `x', '`');
    assert.deepEqual(i.kind === 'RUN' && i.command, { form: 'shell', line: 'echo `x' });
    invalid(() => parseInstructionLine('BOGUS x'), 'unknown instruction: BOGUS');
  });
});

describe('parseGoDuration', () => {
  const ok: Array<[string, number]> = [
    ['0', 0],
    ['1ns', 1],
    ['1.5s', 1.5e9],
    ['1m30s', 90e9],
    ['2h45m', (2 * 60 + 45) * 60e9],
    ['-3s', -3e9],
    ['.5ms', 0.5e6],
    ['10µs', 10e3],
  ];
  for (const [text, ns] of ok) it(`${text} = ${ns}ns`, () => assert.equal(parseGoDuration(text), ns));
  it('refuses what Go refuses', () => {
    assert.throws(() => parseGoDuration(''), /time: invalid duration ""/);
    assert.throws(() => parseGoDuration('5'), /time: missing unit in duration "5"/);
    assert.throws(() => parseGoDuration('5d'), /time: unknown unit "d" in duration "5d"/);
    assert.throws(() => parseGoDuration('.s'), /time: invalid duration ".s"/);
  });
});

describe('parseDockerfile: heredocs', () => {
  it('RUN <<EOF runs the body as the script', () => {
    const run = one('RUN <<EOF\napt-get update\napt-get install -y x\nEOF\n', 'RUN');
    assert.deepEqual(run.command, { form: 'shell', line: 'apt-get update\napt-get install -y x\n' });
    assert.deepEqual(run.heredocs, [{ name: 'EOF', content: 'apt-get update\napt-get install -y x\n', expand: true, chomp: false, fd: 0 }]);
  });

  it('a RUN line that uses heredocs gets the bodies appended for the shell', () => {
    const run = one("RUN cat <<'A' > /a && cat <<-B > /b\n$HOME\nA\n\tindented\n\tB\n", 'RUN');
    assert.deepEqual(run.command, { form: 'shell', line: "cat <<'A' > /a && cat <<-B > /b\n$HOME\nA\nindented\nB" });
    assert.deepEqual(
      run.heredocs?.map((h) => [h.name, h.expand, h.chomp]),
      [
        ['A', false, false],
        ['B', true, true],
      ],
    );
  });

  it('the instruction after a heredoc is parsed normally, with its own line number', () => {
    const df = parseDockerfile('FROM scratch\nRUN <<EOF\necho hi\nEOF\nUSER app\n');
    const user = df.stages[0]?.instructions[1];
    assert.equal(user?.kind, 'USER');
    assert.equal(user?.line, 5);
  });

  it('COPY <<name makes inline files, apart from the other sources', () => {
    const copy = one('COPY a <<hello.txt <<"raw.sh" /dst/\nhi $NAME\nhello.txt\necho $X\nraw.sh\n', 'COPY');
    assert.deepEqual(copy.sources, ['a']);
    assert.equal(copy.dest, '/dst/');
    assert.deepEqual(
      copy.heredocs?.map((h) => [h.name, h.content, h.expand]),
      [
        ['hello.txt', 'hi $NAME\n', true],
        ['raw.sh', 'echo $X\n', false],
      ],
    );
  });

  it('exec form and other instructions have no heredocs', () => {
    assert.deepEqual(one('RUN ["cat", "<<EOF"]', 'RUN').command, { form: 'exec', args: ['cat', '<<EOF'] });
    assert.deepEqual(one('CMD cat <<EOF', 'CMD').command, { form: 'shell', line: 'cat <<EOF' });
    assert.deepEqual(one('RUN echo "a<<b" <<< x', 'RUN').command, { form: 'shell', line: 'echo "a<<b" <<< x' });
  });

  it('refuses an unterminated heredoc and a heredoc destination', () => {
    invalid(() => body('RUN <<EOF\necho\n'), 'unterminated heredoc');
    invalid(() => body('COPY a <<EOF\nx\nEOF'), 'dockerfile parse error on line 2: COPY cannot accept a heredoc as a destination');
  });
});
