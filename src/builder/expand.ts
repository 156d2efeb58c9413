/**
 * Docker's shell-word processing for Dockerfile arguments: quotes, escapes and `$VAR` / `${VAR...}` substitution,
 * with the same results (and error texts) as moby's shell lexer. It is not a shell: no globbing, no command
 * substitution, no arithmetic. RUN/CMD/ENTRYPOINT are never expanded here; their shell does that.
 */
import { invalidArgument } from '../errors.js';
import type { Instruction } from './dockerfile.js';

export type ExpandEnv = Map<string, string> | Record<string, string>;

/** Expands one word into one string; whitespace inside the result is kept. */
export function expandWord(word: string, env: ExpandEnv, escape = '\\'): string {
  return new ShellWord(word, env, escape).process().result;
}

/** Expands and then splits on whitespace that was neither quoted nor escaped (whitespace from variables splits). */
export function expandWords(word: string, env: ExpandEnv, escape = '\\'): string[] {
  return new ShellWord(word, env, escape).process().words;
}

/** A COPY/ADD heredoc body whose terminator was unquoted: variables and escapes are processed, quotes kept. */
export function expandHeredoc(content: string, env: ExpandEnv): string {
  return new ShellWord(content, env, '\\', { skipQuotes: true }).process().result;
}

/** The words of a heredoc terminator as Docker reads them: quotes removed, `$X` left as written. */
export function heredocNameWords(word: string): string[] {
  return new ShellWord(word, {}, '\\', { skipUnset: true }).process().words;
}

/**
 * Expands an instruction's variables exactly where Docker's builder does. ENV/LABEL pairs come out with quotes
 * removed; COPY/ADD sources and dest, their --chown/--chmod/--from; EXPOSE ports (a variable holding several ports
 * splits); FROM image and --platform; ARG names and defaults; USER, VOLUME, WORKDIR, STOPSIGNAL. Everything else
 * is returned unchanged (RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK/ONBUILD/MAINTAINER).
 */
export function expandInstruction<T extends Instruction>(inst: T, env: ExpandEnv, escape = '\\'): T {
  const w = (s: string): string => expandWord(s, env, escape);
  const flags = (names: string[]): Record<string, string> => {
    const out = { ...inst.flags };
    for (const n of names) if (out[n] !== undefined) out[n] = w(out[n]);
    return out;
  };
  // Each branch builds the same kind it was given; the cast back to T is what ties the two together.
  const i: Instruction = inst;
  switch (i.kind) {
    case 'ENV':
    case 'LABEL':
      return { ...i, pairs: i.pairs.map(([k, v]) => [w(k), w(v)] as [string, string]) } as T;
    case 'ARG':
      return {
        ...i,
        args: i.args.map((a) => (a.value === undefined ? { name: w(a.name) } : { name: w(a.name), value: w(a.value) })),
      } as T;
    case 'COPY':
    case 'ADD':
      return {
        ...i,
        flags: flags(['chown', 'chmod', 'from']),
        sources: i.sources.map(w),
        dest: w(i.dest),
        ...(i.heredocs
          ? { heredocs: i.heredocs.map((h) => (h.expand ? { ...h, content: expandHeredoc(h.content, env) } : h)) }
          : {}),
      } as T;
    case 'EXPOSE':
      return { ...i, ports: i.ports.flatMap((p) => expandWords(p, env, escape)) } as T;
    case 'FROM':
      return { ...i, flags: flags(['platform']), image: w(i.image) } as T;
    case 'USER':
      return { ...i, user: w(i.user) } as T;
    case 'VOLUME':
      return { ...i, paths: i.paths.map(w) } as T;
    case 'WORKDIR':
      return { ...i, path: w(i.path) } as T;
    case 'STOPSIGNAL':
      return { ...i, signal: w(i.signal) } as T;
    default:
      return inst;
  }
}

function lookup(env: ExpandEnv, name: string): string | undefined {
  if (env instanceof Map) return env.get(name);
  return Object.prototype.hasOwnProperty.call(env, name) ? env[name] : undefined;
}

const isSpace = (ch: string): boolean => /^\s$/u.test(ch);
const isNameChar = (ch: string): boolean => /^[\p{L}\p{N}_]$/u.test(ch);
const isDigit = (ch: string): boolean => /^\p{Nd}$/u.test(ch);
const isSpecialParam = (ch: string): boolean => '@*#?-$!0'.includes(ch);

/** Collects the split form alongside the joined one, like the lexer's word list. */
class WordCollector {
  private current = '';
  private inWord = false;
  readonly words: string[] = [];

  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord && this.current.length > 0) {
        this.words.push(this.current);
        this.current = '';
        this.inWord = false;
      }
    } else {
      this.addRaw(ch);
    }
  }
  addRaw(s: string): void {
    this.current += s;
    this.inWord = true;
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  finish(): string[] {
    if (this.current.length > 0) {
      this.words.push(this.current);
      this.current = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class LexError extends Error {}

interface LexOptions {
  /** quotes are plain characters (heredoc bodies are scripts, their quotes are not the Dockerfile's) */
  skipQuotes?: boolean;
  /** an unset variable stays as written instead of becoming "" */
  skipUnset?: boolean;
}

class ShellWord {
  private readonly chars: string[];
  private pos = 0;
  private rawEscapes = false;

  constructor(
    private readonly source: string,
    private readonly env: ExpandEnv,
    private readonly escape: string,
    private readonly options: LexOptions = {},
  ) {
    this.chars = Array.from(source);
  }

  process(): { result: string; words: string[] } {
    try {
      return this.processStopOn(undefined, false);
    } catch (err) {
      if (err instanceof LexError) throw invalidArgument(`failed to process ${JSON.stringify(this.source)}: ${err.message}`);
      throw err;
    }
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }
  private next(): string | undefined {
    return this.chars[this.pos++];
  }

  private processStopOn(stop: string | undefined, rawEscapes: boolean): { result: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let result = '';
      const words = new WordCollector();
      for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
        if (stop !== undefined && ch === stop) {
          this.next();
          return { result, words: words.finish() };
        }
        if (ch === '$') {
          const v = this.processDollar();
          result += v;
          words.addString(v);
        } else if (ch === "'" && !this.options.skipQuotes) {
          const v = this.processSingleQuote();
          result += v;
          words.addRaw(v);
        } else if (ch === '"' && !this.options.skipQuotes) {
          const v = this.processDoubleQuote();
          result += v;
          words.addRaw(v);
        } else {
          let c = this.next() as string;
          if (c === this.escape) {
            if (this.rawEscapes) {
              words.addRaw(c);
              result += c;
            }
            const escaped = this.next();
            if (escaped === undefined) break; // a trailing escape is dropped
            c = escaped;
            words.addRaw(c);
          } else {
            words.addChar(c);
          }
          result += c;
        }
      }
      if (stop !== undefined) throw new LexError(`unexpected end of statement while looking for matching ${stop}`);
      return { result, words: words.finish() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  private processSingleQuote(): string {
    this.next();
    let out = '';
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw new LexError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return out;
      out += ch;
    }
  }

  private processDoubleQuote(): string {
    this.next();
    let out = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) throw new LexError('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') {
        this.next();
        return out;
      }
      if (ch === '$') {
        out += this.processDollar();
        continue;
      }
      let c = this.next() as string;
      if (c === this.escape) {
        if (this.rawEscapes) out += c;
        const after = this.peek();
        if (after === undefined) continue; // escape at the very end: dropped, then the quote error fires
        // Inside double quotes the escape only quotes ", $ and itself; elsewhere it stays literal.
        if (after === '"' || after === '$' || after === this.escape) c = this.next() as string;
      }
      out += c;
    }
  }

  private processName(): string {
    let name = '';
    for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
      if (name === '' && isDigit(ch)) {
        while (this.peek() !== undefined && isDigit(this.peek() as string)) name += this.next();
        return name;
      }
      if (name === '' && isSpecialParam(ch)) return this.next() as string;
      if (!isNameChar(ch)) break;
      name += this.next();
    }
    return name;
  }

  private processDollar(): string {
    this.next(); // '$'
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const v = lookup(this.env, name);
      if (v === undefined && this.options.skipUnset) return `$${name}`;
      return v ?? '';
    }
    this.next(); // '{'
    const first = this.peek();
    if (first === undefined) throw new LexError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new LexError('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.next();
    if (ch === undefined) throw new LexError("syntax error: missing '}'");
    let modifier = ch;
    const value = lookup(this.env, name);
    if (ch === '}') return value === undefined && this.options.skipUnset ? `\${${name}}` : (value ?? '');
    if (ch === '/') return this.processReplace(value);
    let nullIsUnset = false;
    if (ch === ':') {
      nullIsUnset = true;
      ch = this.next();
      if (ch === undefined) throw new LexError("syntax error: missing '}'");
      modifier += ch;
    } else if (!'+-?#%'.includes(ch)) {
      throw new LexError(`unsupported modifier (${modifier}) in substitution`);
    }
    const word = this.readModifierWord(ch === '#' || ch === '%');
    if (value === undefined && this.options.skipUnset) return `\${${name}${modifier}${word}}`;
    const unset = value === undefined || (nullIsUnset && value === '');
    switch (ch) {
      case '-':
        return unset ? word : (value as string);
      case '+':
        return unset ? '' : word;
      case '?':
        if (value === undefined) throw new LexError(`${name}: ${word || 'is not allowed to be unset'}`);
        if (nullIsUnset && value === '') throw new LexError(`${name}: ${word || 'is not allowed to be empty'}`);
        return value;
      case '#':
      case '%':
        return trimAffix(value ?? '', word, ch === '#' ? 'prefix' : 'suffix');
    }
    throw new LexError(`unsupported modifier (${modifier}) in substitution`);
  }

  private readModifierWord(rawEscapes: boolean): string {
    try {
      return this.processStopOn('}', rawEscapes).result;
    } catch (err) {
      if (err instanceof LexError && this.peek() === undefined) throw new LexError("syntax error: missing '}'");
      throw err;
    }
  }

  private processReplace(value: string | undefined): string {
    const all = this.peek() === '/';
    if (all) this.next();
    let pattern: string;
    try {
      pattern = this.processStopOn('/', true).result;
    } catch (err) {
      if (err instanceof LexError && this.peek() === undefined) throw new LexError("syntax error: missing '/' in ${}");
      throw err;
    }
    const replacement = this.readModifierWord(true);
    const re = shellPatternToRegex(pattern, true, all ? 'gsu' : 'su');
    return (value ?? '').replace(re, () => replacement);
  }
}

/** `*` any run, `?` one char, backslash quotes `*`, `?`, `\`; everything else literal (no bracket expressions). */
function shellPatternToRegex(pattern: string, greedy: boolean, flags: string, anchored = false): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? '^(?:' : '';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    if (ch === '*') out += greedy ? '.*' : '.*?';
    else if (ch === '?') out += '.';
    else if (ch === '\\') {
      const nx = chars[i + 1];
      if (nx === '}' || nx === '/') continue; // escaped only to get past the ${} parser
      if (nx !== '*' && nx !== '?' && nx !== '\\') {
        throw new LexError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${nx ?? ''}'`);
      }
      out += '\\' + nx;
      i++;
    } else out += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  if (anchored) out += ')$';
  return new RegExp(out, flags);
}

/** ${VAR#pat} / ${VAR##pat} / ${VAR%pat} / ${VAR%%pat}: a doubled modifier asks for the longest match. */
function trimAffix(value: string, word: string, side: 'prefix' | 'suffix'): string {
  const marker = side === 'prefix' ? '#' : '%';
  const longest = word.startsWith(marker);
  const re = shellPatternToRegex(longest ? word.slice(1) : word, true, 'su', true);
  const chars = Array.from(value);
  const n = chars.length;
  // Try candidate lengths from shortest to longest (or the reverse) and cut the first that matches whole.
  for (let k = 0; k <= n; k++) {
    const len = longest ? n - k : k;
    const part = side === 'prefix' ? chars.slice(0, len).join('') : chars.slice(n - len).join('');
    if (re.test(part)) return side === 'prefix' ? chars.slice(len).join('') : chars.slice(0, n - len).join('');
  }
  return value;
}
