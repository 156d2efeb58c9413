/**
 * The line level of the Dockerfile grammar, as Docker's parser reads it: parser directives, comments, line
 * continuations, the instruction keyword, leading `--flags`, and the per-instruction argument shapes (JSON array,
 * whitespace list, key=value words, the rest of the line). No meaning is given to any instruction here.
 */
import { invalidArgument } from '../errors.js';
import { heredocNameWords } from './expand.js';

export type EscapeChar = '\\' | '`';

/** A here-document of RUN/COPY/ADD (`<<EOF` ... `EOF`). */
export interface Heredoc {
  /** the terminator word, quotes removed; for COPY/ADD also the name of the file it makes */
  name: string;
  /** the body, each line ending in "\n"; with `<<-` leading tabs are already removed */
  content: string;
  /** false when the terminator was quoted: the body is then taken literally */
  expand: boolean;
  /** `<<-` */
  chomp: boolean;
  /** `3<<EOF`: the file descriptor the shell reads it on (0 when not given) */
  fd: number;
}

/** One logical line: continuations joined, comments inside them dropped, heredoc bodies collected. */
export interface LogicalLine {
  /** 1-based line of the first physical line */
  startLine: number;
  endLine: number;
  text: string;
  heredocs: Heredoc[];
}

export interface SplitResult {
  escape: EscapeChar;
  lines: LogicalLine[];
  warnings: string[];
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const KNOWN_DIRECTIVES = new Set(['escape', 'syntax', 'check']);

class Directives {
  escape: EscapeChar = '\\';
  private done = false;
  private readonly seen = new Set<string>();
  readonly warnings: string[] = [];

  /** Directives count only until the first line that is not one (an instruction, a comment, a blank line). */
  consider(line: string): void {
    if (this.done) return;
    const m = DIRECTIVE.exec(line);
    const key = m?.[1]?.toLowerCase();
    if (!m || key === undefined || !KNOWN_DIRECTIVES.has(key)) {
      this.done = true;
      return;
    }
    if (this.seen.has(key)) throw invalidArgument(`only one ${key} parser directive can be used`);
    this.seen.add(key);
    const value = m[2] as string;
    if (key === 'escape') {
      if (value !== '`' && value !== '\\') throw invalidArgument(`invalid escape token '${value}' does not match \` or \\`);
      this.escape = value;
    } else if (key === 'syntax') {
      this.warnings.push(`syntax directive "${value}" ignored: berth builds with its built-in Dockerfile frontend`);
    }
  }

  /**
   * The escape char plus trailing blanks at the end of a line continues it, unless that escape char is itself
   * escaped: a line ending in two of them ends there.
   */
  trimContinuation(line: string): { text: string; ends: boolean } {
    const re = this.escape === '`' ? /(^|[^`])`[ \t]*$/ : /(^|[^\\])\\[ \t]*$/;
    if (re.test(line)) return { text: line.replace(re, '$1'), ends: false };
    return { text: line, ends: true };
  }
}

const isCommentLine = (line: string): boolean => /^\s*#/.test(line);
const trimLeftSpace = (s: string): string => s.replace(/^\s+/u, '');

/** Splits a Dockerfile's text into logical lines, reading parser directives on the way. */
export function splitLogicalLines(text: string): SplitResult {
  const d = new Directives();
  const physical = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (physical.length > 0 && physical[physical.length - 1] === '') physical.pop();
  const lines: LogicalLine[] = [];
  let emptyContinuation = false;
  let i = 0;
  while (i < physical.length) {
    const first = trimLeftSpace(physical[i] as string);
    d.consider(first);
    i++;
    const startLine = i;
    let { text: line, ends } = d.trimContinuation(first.startsWith('#') ? '' : first);
    if (ends && line === '') continue;
    let hasEmpty = false;
    while (!ends && i < physical.length) {
      const raw = physical[i] as string;
      d.consider(raw);
      i++;
      if (isCommentLine(raw)) continue;
      if (raw.trim() === '') {
        hasEmpty = true;
        continue;
      }
      const cont = d.trimContinuation(raw);
      line += cont.text;
      ends = cont.ends;
    }
    if (hasEmpty) {
      emptyContinuation = true;
      d.warnings.push(`[WARNING]: Empty continuation line found in:\n    ${line}`);
    }
    const heredocs: Heredoc[] = [];
    for (const h of heredocHeads(line)) {
      let content = '';
      let terminated = false;
      while (i < physical.length) {
        const raw = physical[i] as string;
        i++;
        if ((h.chomp ? raw.replace(/^\t+/, '') : raw) === h.name) {
          terminated = true;
          break;
        }
        content += (h.chomp ? raw.replace(/^\t+/, '') : raw) + '\n';
      }
      if (!terminated) throw invalidArgument('unterminated heredoc');
      heredocs.push({ ...h, content });
    }
    lines.push({ startLine, endLine: i, text: line, heredocs });
  }
  if (emptyContinuation) d.warnings.push('[WARNING]: Empty continuation lines will become errors in a future release.');
  return { escape: d.escape, lines, warnings: d.warnings };
}

const HEREDOC_INSTRUCTIONS = new Set(['run', 'copy', 'add']);
const HEREDOC_WORD = /^(\d*)<<(-?)\s*([^<]*)$/;

/** The heredocs a RUN/COPY/ADD line opens, in order (bodies not read yet). JSON forms have none. */
function heredocHeads(line: string): Array<Omit<Heredoc, 'content'>> {
  if (!line.includes('<<')) return [];
  const { keyword, rest } = splitCommand(line);
  if (!HEREDOC_INSTRUCTIONS.has(keyword)) return [];
  try {
    if (parseJsonArray(rest)) return [];
  } catch {
    return []; // a broken JSON array fails later, with Docker's message
  }
  const heads: Array<Omit<Heredoc, 'content'>> = [];
  for (const word of parseWords(rest, '\\')) {
    const h = parseHeredocWord(word);
    if (h) heads.push(h);
  }
  return heads;
}

/** `<<EOF`, `<<-"EOF"`, `3<<'END'` -> its parts; anything else -> undefined. */
export function parseHeredocWord(word: string): Omit<Heredoc, 'content'> | undefined {
  const m = HEREDOC_WORD.exec(word);
  const rest = m?.[3];
  if (!m || !rest) return undefined;
  let names: string[];
  try {
    names = heredocNameWords(rest);
  } catch {
    return undefined;
  }
  if (names.length !== 1) return undefined;
  const name = names[0] as string;
  const quotes = (s: string): number => (s.match(/['"]/g) ?? []).length;
  return { name, expand: quotes(name) === quotes(rest), chomp: m[2] === '-', fd: m[1] ? Number(m[1]) : 0 };
}

/** `FROM --platform=x img` -> keyword "from", flags ["--platform=x"], rest "img". */
export function splitCommand(line: string): { keyword: string; word: string; flags: string[]; rest: string } {
  const trimmed = line.trim();
  const m = /[\t\v\f\r ]+/.exec(trimmed);
  const word = m ? trimmed.slice(0, m.index) : trimmed;
  const after = m ? trimmed.slice(m.index + m[0].length) : '';
  const { rest, flags } = after === '' ? { rest: '', flags: [] } : extractFlags(after);
  return { keyword: word.toLowerCase(), word, flags, rest: rest.trim() };
}

/**
 * Leading words that start with `--` are the instruction's flags (quotes and backslashes processed inside
 * them); a bare `--` ends them. The escape directive does not apply here: Docker always uses backslash.
 */
function extractFlags(line: string): { rest: string; flags: string[] } {
  const { words, rest } = scanWords(line, 'flags', '\\');
  return { rest, flags: words };
}

/**
 * Words separated by unquoted whitespace, quotes and escapes KEPT (they are removed later, by expansion).
 * An escape at the very end of the line is dropped.
 */
export function parseWords(rest: string, escape: EscapeChar): string[] {
  return scanWords(rest, 'words', escape).words;
}

/**
 * The one word splitter behind Docker's two: in 'flags' mode (extractBuilderFlags) quotes and escapes are removed,
 * an escape works inside both kinds of quotes, and reading stops before the first word not starting with `--` or
 * after a bare `--`, returning the rest of the line; in 'words' mode (parseWords) quotes and escapes are kept for
 * expansion to remove, and single quotes keep an escape literal.
 */
function scanWords(text: string, mode: 'flags' | 'words', escape: EscapeChar): { words: string[]; rest: string } {
  const keepQuotes = mode === 'words';
  const chars = Array.from(text);
  const restFrom = (pos: number): string => chars.slice(pos).join('');
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  // A word that had quotes counts even when nothing is left of it.
  let blankOk = false;
  let word = '';
  for (let pos = 0; pos <= chars.length; pos++) {
    const atEnd = pos === chars.length;
    let ch = atEnd ? '' : (chars[pos] as string);
    if (phase === 'spaces') {
      if (atEnd) break;
      if (/\s/u.test(ch)) continue;
      if (mode === 'flags' && (ch !== '-' || chars[pos + 1] !== '-')) return { words, rest: restFrom(pos) };
      phase = 'word';
    }
    if (atEnd || (phase === 'word' && /\s/u.test(ch))) {
      if (mode === 'flags' && word === '--') return { words, rest: restFrom(pos) };
      if (blankOk || word.length > 0) words.push(word);
      if (atEnd) break;
      phase = 'spaces';
      word = '';
      blankOk = false;
      continue;
    }
    if (phase === 'word' && (ch === "'" || ch === '"')) {
      quote = ch;
      blankOk = true;
      phase = 'quote';
      if (keepQuotes) word += ch;
      continue;
    }
    if (phase === 'quote' && ch === quote) {
      phase = 'word';
      if (keepQuotes) word += ch;
      continue;
    }
    const escapes = phase === 'word' || mode === 'flags' || quote === '"';
    if (ch === escape && escapes) {
      if (pos + 1 === chars.length) continue; // a trailing escape is dropped
      if (keepQuotes) word += ch;
      pos++;
      ch = chars[pos] as string;
    }
    word += ch;
  }
  return { words, rest: '' };
}

export const NOT_STRING_ARRAY = 'when using JSON array syntax, arrays must be comprised of strings only';

/** A JSON array of strings, or undefined when the text is not JSON (then it is shell form). */
export function parseJsonArray(rest: string): string[] | undefined {
  const t = trimLeftSpace(rest);
  if (!t.startsWith('[')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(t);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  if (!parsed.every((v): v is string => typeof v === 'string')) throw invalidArgument(NOT_STRING_ARRAY);
  return parsed;
}

/** Docker splits whitespace lists on blanks only (not newlines, which cannot occur in a logical line anyway). */
export function splitWhitespace(rest: string): string[] {
  return rest === '' ? [] : rest.split(/[\t\v\f\r ]+/);
}
