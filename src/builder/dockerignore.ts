/**
 * .dockerignore with Docker's rules: patterns are path.Clean'd and made relative, `*` and `?` stay inside one
 * path segment, `**` spans any number of segments, `[...]` classes, `\` escapes; a path is ignored when the
 * last pattern matching it or one of its parent directories is not an `!` exception.
 */
import { posix } from 'node:path';
import { invalidArgument } from '../errors.js';

/** The patterns of a .dockerignore file, in order; exceptions keep their leading `!`. */
export function parseDockerignore(text: string): string[] {
  const patterns: string[] = [];
  for (const rawLine of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    // Only a # in the first column starts a comment.
    if (rawLine.startsWith('#')) continue;
    let pattern = rawLine.trim();
    if (pattern === '') continue;
    const invert = pattern.startsWith('!');
    if (invert) pattern = pattern.slice(1).trim();
    if (pattern !== '') {
      pattern = goClean(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    patterns.push(invert ? `!${pattern}` : pattern);
  }
  return patterns;
}

export interface IgnoreMatcher {
  /** whether the context path (relative, `/`-separated) is left out of the build context */
  ignores(relPath: string, isDir?: boolean): boolean;
  /** for an ignored directory: whether some `!` exception could re-include a path inside it (so walk into it) */
  mayMatchInside(dirRelPath: string): boolean;
}

interface CompiledPattern {
  text: string;
  exclusion: boolean;
  regex: Matcher;
  /** per path segment, for guessing whether an exception can reach inside a directory */
  segments: Array<{ text: string; regex: Matcher }>;
}

export function createIgnoreMatcher(patterns: readonly string[]): IgnoreMatcher {
  const compiled: CompiledPattern[] = [];
  for (const raw of patterns) {
    let p = raw.trim();
    if (p === '') continue;
    p = goClean(p);
    let exclusion = false;
    if (p.startsWith('!')) {
      if (p.length === 1) throw invalidArgument('illegal exclusion pattern: "!"');
      exclusion = true;
      p = p.slice(1);
    }
    const regex = compilePattern(p);
    const segments = p.split('/').map((seg) => ({ text: seg, regex: compileSegment(seg) }));
    compiled.push({ text: p, exclusion, regex, segments });
  }
  const exclusions = compiled.filter((c) => c.exclusion);

  const ignores = (relPath: string): boolean => {
    const file = normalizeRel(relPath);
    if (file === '.') return false;
    const parents = file.split('/').slice(0, -1);
    let matched = false;
    for (const pat of compiled) {
      // An inclusion cannot change an already-ignored path, nor an exception a kept one.
      if (pat.exclusion !== matched) continue;
      let match = pat.regex.test(file);
      for (let i = 1; !match && i <= parents.length; i++) match = pat.regex.test(parents.slice(0, i).join('/'));
      if (match) matched = !pat.exclusion;
    }
    return matched;
  };

  const mayMatchInside = (dirRelPath: string): boolean => {
    const dir = normalizeRel(dirRelPath);
    if (dir === '.') return exclusions.length > 0;
    const dirSegs = dir.split('/');
    return exclusions.some((pat) => {
      for (let i = 0; i < dirSegs.length; i++) {
        const seg = pat.segments[i];
        if (seg === undefined) return false;
        if (seg.text.includes('**')) return true;
        if (!seg.regex.test(dirSegs[i] as string)) return false;
      }
      return true;
    });
  };

  return { ignores: (p) => ignores(p), mayMatchInside };
}

/** Go's path.Clean: no trailing slash, no `.`, `..` resolved lexically, "" -> ".". */
export function goClean(p: string): string {
  if (p === '') return '.';
  let out = posix.normalize(p);
  if (out.length > 1 && out.endsWith('/')) out = out.slice(0, -1);
  return out;
}

function normalizeRel(p: string): string {
  let out = goClean(p);
  while (out.startsWith('/')) out = out.slice(1);
  return out === '' ? '.' : out;
}

const REGEX_SPECIAL = new Set(['.', '+', '(', ')', '|', '{', '}', '$', '^']);

/** Translates a pattern to an anchored regex: `*` and `?` never cross `/`, `**` (and `**​/`) crosses any. */
function toRegexSource(pattern: string): string {
  const chars = Array.from(pattern);
  let out = '';
  let inClass = false;
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    if (inClass) {
      if (ch === ']') inClass = false;
      if (ch === '\\' && i + 1 < chars.length) {
        out += '\\' + chars[++i];
        continue;
      }
      out += ch === '[' ? '\\[' : ch;
      continue;
    }
    if (ch === '*') {
      if (chars[i + 1] === '*') {
        i++;
        if (chars[i + 1] === '/') i++; // `**/` is the same as `**`
        out += i + 1 >= chars.length ? '.*' : '(.*/)?';
      } else {
        out += '[^/]*';
      }
    } else if (ch === '?') {
      out += '[^/]';
    } else if (ch === '[') {
      // Docker hands classes to Go's regexp as they are: `[^a]` negates, while `[!a]` is a class holding `!`.
      inClass = true;
      out += '[';
      if (chars[i + 1] === '^') {
        i++;
        out += '^';
      }
    } else if (ch === '\\') {
      if (i + 1 < chars.length) out += escapeLiteral(chars[++i] as string);
      else out += '\\\\';
    } else if (REGEX_SPECIAL.has(ch) || ch === ']') {
      out += '\\' + ch;
    } else {
      out += ch;
    }
  }
  if (inClass) throw invalidArgument(`syntax error in pattern: ${pattern}`);
  return out;
}

/** An escaped char stands for itself; a letter or digit must not become a regex escape like \\d or \\w. */
function escapeLiteral(ch: string): string {
  return /[A-Za-z0-9_]/.test(ch) ? ch : '\\' + ch;
}

type Matcher = { test(path: string): boolean };

/** A matcher for one cleaned pattern. */
function compilePattern(pattern: string): Matcher {
  // Docker matches a leading `**` followed by plain text as a bare suffix: `**foo` matches "barfoo" and "a/xfoo".
  if (pattern.startsWith('**') && !/[*?[\]\\]/.test(pattern.slice(2))) {
    const suffix = pattern.slice(2);
    return { test: (path) => path.endsWith(suffix) || (suffix.startsWith('/') && path === suffix.slice(1)) };
  }
  try {
    return new RegExp(`^${toRegexSource(pattern)}$`, 's');
  } catch {
    throw invalidArgument(`syntax error in pattern: ${pattern}`);
  }
}

/** A class split by `/` cannot be compiled alone; such a segment is taken as able to match anything. */
function compileSegment(segment: string): Matcher {
  try {
    return compilePattern(segment);
  } catch {
    return { test: () => true };
  }
}
