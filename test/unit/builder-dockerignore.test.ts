import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createIgnoreMatcher, goClean, parseDockerignore } from '../../src/builder/dockerignore.js';
import { BerthError } from '../../src/errors.js';

const matcher = (text: string): ReturnType<typeof createIgnoreMatcher> => createIgnoreMatcher(parseDockerignore(text));

function expectIgnored(text: string, ignored: string[], kept: string[]): void {
  const m = matcher(text);
  for (const p of ignored) assert.equal(m.ignores(p), true, `${p} should be ignored by ${JSON.stringify(text)}`);
  for (const p of kept) assert.equal(m.ignores(p), false, `${p} should be kept by ${JSON.stringify(text)}`);
}

describe('parseDockerignore', () => {
  it('drops comments and blank lines, trims, cleans and makes paths relative', () => {
    const text = '\uFEFF# comment\n\n  node_modules/  \n/abs/path\n./a/../b//c/\n!  /keep/this\n #not a comment\r\n';
    assert.deepEqual(parseDockerignore(text), ['node_modules', 'abs/path', 'b/c', '!keep/this', '#not a comment']);
  });

  it('keeps a lone / as is', () => {
    assert.deepEqual(parseDockerignore('/\n'), ['/']);
  });
});

describe('goClean', () => {
  const table: Array<[string, string]> = [
    ['', '.'],
    ['a/', 'a'],
    ['./a', 'a'],
    ['a//b/./c/..', 'a/b'],
    ['/..', '/'],
    ['../a', '../a'],
  ];
  for (const [input, want] of table) it(`${JSON.stringify(input)} -> ${want}`, () => assert.equal(goClean(input), want));
});

describe('createIgnoreMatcher: ignores', () => {
  it('a plain name matches that path and everything below it, at the root only', () => {
    expectIgnored('build', ['build', 'build/x', 'build/a/b'], ['src/build', 'builds', 'a']);
  });

  it('* and ? stay within one path segment', () => {
    expectIgnored('*.md', ['README.md', 'a.md/inside'], ['docs/a.md', 'a.mdx']);
    expectIgnored('*/*.log', ['a/x.log'], ['x.log', 'a/b/x.log']);
    expectIgnored('file?.txt', ['file1.txt'], ['file10.txt', 'file/.txt']);
  });

  it('** crosses any number of directories, including none', () => {
    expectIgnored('**/*.log', ['x.log', 'a/x.log', 'a/b/c/x.log'], ['a/x.txt']);
    expectIgnored('a/**/z', ['a/z', 'a/b/z', 'a/b/c/z'], ['z', 'b/a/z']);
    expectIgnored('logs/**', ['logs/a', 'logs/a/b'], ['logs', 'other']);
    expectIgnored('**', ['a', 'a/b'], []);
    expectIgnored('**foo', ['foo', 'barfoo', 'a/xfoo'], ['foox']);
  });

  it('character classes, negated with ! or ^', () => {
    expectIgnored('[ab].txt', ['a.txt', 'b.txt'], ['c.txt']);
    expectIgnored('[^ab].txt', ['c.txt'], ['b.txt']);
    // as in Docker, which hands the class to Go's regexp: ! does not negate
    expectIgnored('[!ab].txt', ['a.txt', '!.txt'], ['c.txt']);
    expectIgnored('v[0-9]', ['v1'], ['vx']);
  });

  it('regex characters are literal, and backslash escapes', () => {
    expectIgnored('a+b(1).txt', ['a+b(1).txt'], ['aab1.txt']);
    expectIgnored('\\*.txt', ['*.txt'], ['a.txt']);
    expectIgnored('a.b', ['a.b'], ['axb']);
  });

  it('! exceptions, last match wins', () => {
    const text = '*.md\n!README.md\n';
    expectIgnored(text, ['a.md', 'CHANGES.md'], ['README.md', 'x.txt']);
    expectIgnored('!README.md\n*.md\n', ['README.md', 'a.md'], []);
    expectIgnored('*.md\n!*.md\nSECRET.md\n', ['SECRET.md'], ['a.md']);
  });

  it('a re-included parent directory keeps its contents unless excluded again', () => {
    expectIgnored('docs\n!docs/keep\n', ['docs', 'docs/a', 'docs/sub/b'], ['docs/keep', 'docs/keep/x']);
    expectIgnored('*\n!src\nsrc/*.tmp\n', ['a', 'b/c', 'src/x.tmp'], ['src', 'src/main.ts', 'src/lib/x.tmp']);
  });

  it('the build context root is never ignored, and paths are normalized', () => {
    const m = matcher('*\n');
    assert.equal(m.ignores('.'), false);
    assert.equal(m.ignores(''), false);
    assert.equal(matcher('a/b').ignores('./a/b/'), true);
    assert.equal(matcher('a/b').ignores('/a/b'), true);
  });

  it('an empty pattern list ignores nothing', () => {
    const m = createIgnoreMatcher([]);
    assert.equal(m.ignores('a'), false);
    assert.equal(m.mayMatchInside('a'), false);
  });

  it('refuses a lone ! and a broken class', () => {
    assert.throws(() => createIgnoreMatcher(['!']), (e: unknown) => e instanceof BerthError && e.message === 'illegal exclusion pattern: "!"');
    assert.throws(() => createIgnoreMatcher(['a[b']), (e: unknown) => e instanceof BerthError && e.code === 'invalid_argument');
  });
});

describe('createIgnoreMatcher: mayMatchInside', () => {
  it('is false when there are no exceptions, so an excluded directory is skipped whole', () => {
    assert.equal(matcher('node_modules\n').mayMatchInside('node_modules'), false);
  });

  it('is true when an exception names a path inside the directory', () => {
    const m = matcher('docs\n!docs/sub/keep.md\n');
    assert.equal(m.mayMatchInside('docs'), true);
    assert.equal(m.mayMatchInside('docs/sub'), true);
    assert.equal(m.mayMatchInside('docs/other'), false);
    assert.equal(m.mayMatchInside('src'), false);
  });

  it('follows wildcards and ** in exceptions', () => {
    const m = matcher('*\n!*/keep.txt\n');
    assert.equal(m.mayMatchInside('a'), true);
    assert.equal(m.mayMatchInside('a/b'), false);
    const deep = matcher('vendor\n!**/LICENSE\n');
    assert.equal(deep.mayMatchInside('vendor/x/y'), true);
  });

  it('is false for an exception that only names a parent of the directory', () => {
    assert.equal(matcher('a\n!b\n').mayMatchInside('a'), false);
  });
});
