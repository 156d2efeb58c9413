/**
 * A subset of Go's text/template, enough for docker's `--format` strings: fields, pipelines,
 * if/else/range/with, variables, trim markers, docker's extra functions (json, join, split, upper,
 * lower, title, pad, truncate) and Go's builtins (printf, println, index, len, eq, and, or, not...).
 * Values print the way Go's fmt %v prints decoded JSON, so outputs match docker's.
 */
import { BerthError } from '../../errors.js';

export class TemplateError extends BerthError {
  constructor(message: string) {
    super('invalid_argument', message);
    this.name = 'TemplateError';
  }
}

/** Objects that want Go-struct semantics (unknown field = error) implement this marker. */
export interface StrictContext {
  readonly templateTypeName: string;
}

// ---------------------------------------------------------------- lexer

type Tok =
  | { k: 'field'; names: string[]; pos: number } // .A.B ; names [] means "."; pos: column in its line
  | { k: 'var'; name: string; names: string[] } // $x.A
  | { k: 'ident'; v: string }
  | { k: 'str'; v: string }
  | { k: 'num'; v: number }
  | { k: 'bool'; v: boolean }
  | { k: 'nil' }
  | { k: 'pipe' }
  | { k: 'lp' }
  | { k: 'rp' }
  | { k: 'decl' } // :=
  | { k: 'assign' } // =
  | { k: 'comma' }
  | { k: 'fieldtail'; names: string[] }; // .A after a ')'

type Piece = { kind: 'text'; text: string } | { kind: 'action'; toks: Tok[]; line: number };

function lexAction(src: string, line: number, col0: number): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const isIdentChar = (c: string): boolean => /[A-Za-z0-9_]/.test(c);
  const readNames = (): string[] => {
    const names: string[] = [];
    while (src[i] === '.' && i + 1 < src.length && /[A-Za-z_]/.test(src[i + 1]!)) {
      i++;
      let j = i;
      while (j < src.length && isIdentChar(src[j]!)) j++;
      names.push(src.slice(i, j));
      i = j;
    }
    return names;
  };
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '|') {
      toks.push({ k: 'pipe' });
      i++;
    } else if (c === '(') {
      toks.push({ k: 'lp' });
      i++;
    } else if (c === ')') {
      toks.push({ k: 'rp' });
      i++;
      if (src[i] === '.') toks.push({ k: 'fieldtail', names: readNames() });
    } else if (c === ',') {
      toks.push({ k: 'comma' });
      i++;
    } else if (c === ':' && src[i + 1] === '=') {
      toks.push({ k: 'decl' });
      i += 2;
    } else if (c === '=') {
      toks.push({ k: 'assign' });
      i++;
    } else if (c === '.') {
      if (i + 1 < src.length && /[A-Za-z_]/.test(src[i + 1]!)) {
        const pos = col0 + i;
        toks.push({ k: 'field', names: readNames(), pos });
      }
      else if (i + 1 < src.length && /[0-9]/.test(src[i + 1]!)) {
        const m = /^\.[0-9]+(?:[eE][+-]?[0-9]+)?/.exec(src.slice(i))!;
        toks.push({ k: 'num', v: Number(m[0]) });
        i += m[0].length;
      } else {
        toks.push({ k: 'field', names: [], pos: col0 + i });
        i++;
      }
    } else if (c === '$') {
      let j = i + 1;
      while (j < src.length && isIdentChar(src[j]!)) j++;
      const name = src.slice(i, j);
      i = j;
      toks.push({ k: 'var', name, names: readNames() });
    } else if (c === '"') {
      let j = i + 1;
      let out = '';
      for (; j < src.length && src[j] !== '"'; j++) {
        if (src[j] === '\\') {
          j++;
          const e = src[j];
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0' };
          if (e === 'x' || e === 'u') {
            const len = e === 'x' ? 2 : 4;
            out += String.fromCodePoint(parseInt(src.slice(j + 1, j + 1 + len), 16));
            j += len;
          } else if (e !== undefined && e in map) out += map[e];
          else throw new TemplateError(`template: :${line}: invalid syntax`);
        } else out += src[j];
      }
      if (j >= src.length) throw new TemplateError(`template: :${line}: unterminated quoted string`);
      toks.push({ k: 'str', v: out });
      i = j + 1;
    } else if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) throw new TemplateError(`template: :${line}: unterminated raw quoted string`);
      toks.push({ k: 'str', v: src.slice(i + 1, j) });
      i = j + 1;
    } else if (c === "'") {
      const m = /^'(\\.|[^'])'/.exec(src.slice(i));
      if (!m) throw new TemplateError(`template: :${line}: unterminated character constant`);
      const ch = m[1]!.startsWith('\\') ? ({ n: '\n', t: '\t' } as Record<string, string>)[m[1]![1]!] ?? m[1]![1]! : m[1]!;
      toks.push({ k: 'num', v: ch.codePointAt(0)! });
      i += m[0].length;
    } else if (/[0-9+-]/.test(c)) {
      const m = /^[+-]?(0x[0-9a-fA-F]+|[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?)/.exec(src.slice(i));
      if (!m) throw new TemplateError(`template: :${line}: bad number syntax: "${c}"`);
      toks.push({ k: 'num', v: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < src.length && isIdentChar(src[j]!)) j++;
      const w = src.slice(i, j);
      i = j;
      if (w === 'true' || w === 'false') toks.push({ k: 'bool', v: w === 'true' });
      else if (w === 'nil') toks.push({ k: 'nil' });
      else toks.push({ k: 'ident', v: w });
    } else {
      throw new TemplateError(`template: :${line}: unexpected "${c}" in command`);
    }
  }
  return toks;
}

function splitPieces(src: string): Piece[] {
  const pieces: Piece[] = [];
  let pos = 0;
  let trimNext = false;
  while (pos <= src.length) {
    const open = src.indexOf('{{', pos);
    let text = open < 0 ? src.slice(pos) : src.slice(pos, open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    if (open < 0) {
      if (text) pieces.push({ kind: 'text', text });
      break;
    }
    let inner = open + 2;
    if (src.startsWith('- ', inner) || src.startsWith('-\t', inner) || src.startsWith('-\n', inner)) {
      text = text.replace(/[ \t\r\n]+$/, '');
      inner += 1;
    }
    if (text) pieces.push({ kind: 'text', text });
    const line = src.slice(0, open).split('\n').length;
    // find the closing }} that is not inside a string literal
    let j = inner;
    let quote: string | null = null;
    for (; j < src.length; j++) {
      const ch = src[j]!;
      if (quote) {
        if (ch === '\\' && quote === '"') j++;
        else if (ch === quote) quote = null;
      } else if (ch === '"' || ch === '`') quote = ch;
      else if (src.startsWith('}}', j)) break;
    }
    if (j >= src.length) throw new TemplateError(`template: :${line}: unclosed action`);
    let body = src.slice(inner, j);
    trimNext = false;
    if (/[ \t\r\n]-$/.test(body)) {
      body = body.slice(0, -1);
      trimNext = true;
    }
    pos = j + 2;
    const trimmed = body.trim();
    if (trimmed.startsWith('/*')) {
      if (!trimmed.endsWith('*/')) throw new TemplateError(`template: :${line}: unclosed comment`);
      continue;
    }
    const col0 = inner - (src.lastIndexOf('\n', open) + 1);
    pieces.push({ kind: 'action', toks: lexAction(body, line, col0), line });
  }
  return pieces;
}

// ---------------------------------------------------------------- parser

type Operand =
  | { t: 'field'; names: string[]; pos: number }
  | { t: 'var'; name: string; names: string[] }
  | { t: 'lit'; v: unknown }
  | { t: 'sub'; pipe: Pipeline; names: string[] }
  | { t: 'fn'; name: string };

interface Command {
  args: Operand[];
}
interface Pipeline {
  decl: string[];
  assign: boolean;
  cmds: Command[];
  line: number;
}

interface ControlNode {
  n: 'if' | 'with' | 'range';
  pipe: Pipeline;
  body: Node[];
  elseBody: Node[];
}
type Node = { n: 'text'; text: string } | { n: 'action'; pipe: Pipeline } | ControlNode;

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);

class Parser {
  private i = 0;
  constructor(private readonly pieces: Piece[], private readonly funcs: Map<string, TemplateFunc>) {}

  parseAll(): Node[] {
    const { nodes, stop } = this.parseList();
    if (stop) throw new TemplateError(`template: :${stop.line}: unexpected {{${stop.word}}}`);
    return nodes;
  }

  private parseList(): { nodes: Node[]; stop?: { word: string; line: number; rest: Tok[] } } {
    const nodes: Node[] = [];
    while (this.i < this.pieces.length) {
      const p = this.pieces[this.i++]!;
      if (p.kind === 'text') {
        nodes.push({ n: 'text', text: p.text });
        continue;
      }
      const first = p.toks[0];
      if (!first) throw new TemplateError(`template: :${p.line}: missing value for command`);
      if (first.k === 'ident' && KEYWORDS.has(first.v)) {
        const word = first.v;
        if (word === 'end' || word === 'else') return { nodes, stop: { word, line: p.line, rest: p.toks.slice(1) } };
        if (word === 'if' || word === 'with' || word === 'range') {
          nodes.push(this.parseControl(word, p.toks.slice(1), p.line));
          continue;
        }
        throw new TemplateError(`template: :${p.line}: {{${word}}} is not supported`);
      }
      nodes.push({ n: 'action', pipe: this.parsePipeline(p.toks, p.line) });
    }
    return { nodes };
  }

  private parseControl(word: 'if' | 'with' | 'range', toks: Tok[], line: number): Node {
    const pipe = this.parsePipeline(toks, line);
    if (pipe.cmds.length === 0) throw new TemplateError(`template: :${line}: missing value for ${word}`);
    const body = this.parseList();
    if (!body.stop) throw new TemplateError(`template: :${line}: unexpected EOF`);
    let elseBody: Node[] = [];
    if (body.stop.word === 'else') {
      const rest = body.stop.rest;
      const chained = rest[0];
      if (chained && chained.k === 'ident' && (chained.v === 'if' || chained.v === 'with')) {
        // `else if` / `else with` nest a control node that shares our {{end}}
        elseBody = [this.parseControl(chained.v, rest.slice(1), body.stop.line)];
      } else {
        const eb = this.parseList();
        if (!eb.stop || eb.stop.word !== 'end') throw new TemplateError(`template: :${line}: expected end; found ${eb.stop ? eb.stop.word : 'EOF'}`);
        elseBody = eb.nodes;
      }
    }
    return { n: word, pipe, body: body.nodes, elseBody };
  }

  private parsePipeline(toks: Tok[], line: number): Pipeline {
    let pos = 0;
    const decl: string[] = [];
    let assign = false;
    // `$x := pipeline` or `$i, $e := pipeline`
    const declEnd = toks.findIndex((t) => t.k === 'decl' || t.k === 'assign');
    if (declEnd > 0 && toks.slice(0, declEnd).every((t) => (t.k === 'var' && t.names.length === 0) || t.k === 'comma')) {
      for (const t of toks.slice(0, declEnd)) if (t.k === 'var') decl.push(t.name);
      assign = toks[declEnd]!.k === 'assign';
      pos = declEnd + 1;
    }
    const { pipe, end } = this.parseCmds(toks, pos, line, false);
    if (end !== toks.length) throw new TemplateError(`template: :${line}: unexpected ")" in command`);
    return { ...pipe, decl, assign };
  }

  private parseCmds(toks: Tok[], start: number, line: number, inParen: boolean): { pipe: Pipeline; end: number } {
    const cmds: Command[] = [];
    let args: Operand[] = [];
    let i = start;
    for (; i < toks.length; i++) {
      const t = toks[i]!;
      if (t.k === 'rp') {
        if (!inParen) throw new TemplateError(`template: :${line}: unexpected ")" in command`);
        break;
      }
      if (t.k === 'pipe') {
        if (args.length === 0) throw new TemplateError(`template: :${line}: missing command`);
        cmds.push({ args });
        args = [];
        continue;
      }
      switch (t.k) {
        case 'field':
          args.push({ t: 'field', names: t.names, pos: t.pos });
          break;
        case 'var':
          args.push({ t: 'var', name: t.name, names: t.names });
          break;
        case 'str':
        case 'num':
        case 'bool':
          args.push({ t: 'lit', v: t.v });
          break;
        case 'nil':
          args.push({ t: 'lit', v: null });
          break;
        case 'ident':
          if (!this.funcs.has(t.v)) throw new TemplateError(`template: :${line}: function "${t.v}" not defined`);
          args.push({ t: 'fn', name: t.v });
          break;
        case 'lp': {
          const sub = this.parseCmds(toks, i + 1, line, true);
          i = sub.end;
          let names: string[] = [];
          const nxt = toks[i + 1];
          if (nxt && nxt.k === 'fieldtail') {
            names = nxt.names;
            i++;
          }
          args.push({ t: 'sub', pipe: sub.pipe, names });
          break;
        }
        default:
          throw new TemplateError(`template: :${line}: unexpected ${t.k} in command`);
      }
    }
    if (inParen && i >= toks.length) throw new TemplateError(`template: :${line}: unclosed left paren`);
    if (args.length) cmds.push({ args });
    else if (cmds.length) throw new TemplateError(`template: :${line}: missing command`);
    return { pipe: { decl: [], assign: false, cmds, line }, end: i };
  }
}

// ---------------------------------------------------------------- values

export type TemplateFunc = (...args: unknown[]) => unknown;

const NO_VALUE = '<no value>';

/** Go's %v for the values a decoded JSON document or a formatter context holds. */
export function formatValue(v: unknown, nested = false): string {
  if (v === undefined) return NO_VALUE;
  if (v === null) return nested ? '<nil>' : NO_VALUE;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return '[' + v.map((x) => formatValue(x, true)).join(' ') + ']';
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') {
    const o = plainOf(v);
    return 'map[' + Object.keys(o).sort().map((k) => `${k}:${formatValue(o[k], true)}`).join(' ') + ']';
  }
  return String(v);
}

function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  return goFormatG(n, -1);
}

/** Go's strconv 'g' format: precision -1 = shortest representation. */
export function goFormatG(x: number, precision: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'NaN' : x > 0 ? '+Inf' : '-Inf';
  if (x === 0) return '0';
  let mantissa: string;
  let exp: number;
  let digits: number;
  if (precision < 0) {
    const e = x.toExponential(); // shortest round-trip digits
    const [m, ex] = e.split('e');
    mantissa = m!;
    exp = Number(ex);
    digits = mantissa.replace(/[-.]/g, '').length;
  } else {
    const p = precision === 0 ? 1 : precision;
    const e = x.toExponential(p - 1);
    const [m, ex] = e.split('e');
    mantissa = m!;
    exp = Number(ex);
    digits = p;
  }
  // strconv: shortest formatting switches to %e from exponent 6 on, as fmt.Print of a float64 does
  const eprec = precision < 0 ? 6 : digits;
  if (exp < -4 || exp >= eprec) {
    let m = mantissa;
    if (m.includes('.')) m = m.replace(/0+$/, '').replace(/\.$/, '');
    const sign = exp < 0 ? '-' : '+';
    const abs = Math.abs(exp);
    return `${m}e${sign}${abs < 10 ? '0' : ''}${abs}`;
  }
  const decimals = Math.max(0, digits - 1 - exp);
  let s = x.toFixed(decimals);
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s;
}

function plainOf(v: object): Record<string, unknown> {
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    const j = (v as { toJSON: () => unknown }).toJSON();
    if (j && typeof j === 'object') return j as Record<string, unknown>;
  }
  return v as Record<string, unknown>;
}

/** Go's notion of truth: false, 0, nil, and empty strings, slices and maps are false. */
export function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  if (typeof v === 'object' && !isStrict(v)) return Object.keys(plainOf(v)).length > 0;
  return true;
}

function isStrict(v: unknown): v is StrictContext {
  return typeof v === 'object' && v !== null && typeof (v as { templateTypeName?: unknown }).templateTypeName === 'string';
}

function lengthOf(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (v instanceof Map) return v.size;
  if (v && typeof v === 'object') return Object.keys(plainOf(v)).length;
  throw new Error(`len of type ${typeof v}`);
}

function basicEq(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (typeof a !== typeof b && !(a == null && b == null)) throw new Error('incompatible types for comparison');
  return a === b || (a == null && b == null);
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new Error('incompatible types for comparison');
}

/** A Go fmt verb subset: %s %d %v %q %x %X %f %e %g %t %c %% with flags, width and precision. */
export function sprintf(format: string, ...args: unknown[]): string {
  let out = '';
  let argi = 0;
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!;
    if (c !== '%') {
      out += c;
      continue;
    }
    const m = /^%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*)?)?([a-zA-Z%])/.exec(format.slice(i));
    if (!m) {
      out += '%!(NOVERB)';
      continue;
    }
    i += m[0].length - 1;
    const flags = m[1]!;
    const verb = m[4]!;
    if (verb === '%') {
      out += '%';
      continue;
    }
    let width = m[2] === '*' ? Number(args[argi++]) : m[2] !== undefined ? Number(m[2]) : undefined;
    const precision = m[3] === '*' ? Number(args[argi++]) : m[3] !== undefined ? Number(m[3]) : m[0].includes('.') ? 0 : undefined;
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const a = args[argi++];
    let s: string;
    switch (verb) {
      case 's':
      case 'v':
        s = formatValue(a);
        if (verb === 's' && precision !== undefined) s = [...s].slice(0, precision).join('');
        if (verb === 'v' && typeof a === 'string' && flags.includes('#')) s = JSON.stringify(a);
        break;
      case 'q':
        s = typeof a === 'string' ? goQuote(a) : typeof a === 'number' ? goQuote(String.fromCodePoint(a)).replace(/^"|"$/g, "'") : goQuote(formatValue(a));
        break;
      case 'd':
        s = typeof a === 'number' && Number.isInteger(a) ? String(Math.abs(a)) : `%!d(${typeName(a)}=${formatValue(a)})`;
        if (typeof a === 'number' && Number.isInteger(a)) s = (a < 0 ? '-' : flags.includes('+') ? '+' : '') + s;
        break;
      case 'x':
      case 'X': {
        if (typeof a === 'number') s = Math.trunc(a).toString(16);
        else s = Buffer.from(formatValue(a)).toString('hex');
        if (verb === 'X') s = s.toUpperCase();
        break;
      }
      case 'f':
      case 'F':
        s = typeof a === 'number' ? a.toFixed(precision ?? 6) : `%!f(${typeName(a)}=${formatValue(a)})`;
        if (typeof a === 'number' && flags.includes('+') && a >= 0) s = '+' + s;
        break;
      case 'e':
        s = typeof a === 'number' ? goExp(a, precision ?? 6) : `%!e(${typeName(a)}=${formatValue(a)})`;
        break;
      case 'g':
        s = typeof a === 'number' ? goFormatG(a, precision ?? -1) : `%!g(${typeName(a)}=${formatValue(a)})`;
        break;
      case 't':
        s = typeof a === 'boolean' ? String(a) : `%!t(${typeName(a)}=${formatValue(a)})`;
        break;
      case 'c':
        s = typeof a === 'number' ? String.fromCodePoint(a) : `%!c(${typeName(a)}=${formatValue(a)})`;
        break;
      default:
        s = `%!${verb}(${typeName(a)}=${formatValue(a)})`;
    }
    if (width !== undefined && width < 0) width = undefined;
    const len = [...s].length;
    if (width !== undefined && len < width) {
      const pad = width - len;
      if (flags.includes('-')) s = s + ' '.repeat(pad);
      else if (flags.includes('0') && /[dfFeEgxX]/.test(verb)) {
        const sign = /^[+-]/.test(s) ? s[0]! : '';
        s = sign + '0'.repeat(pad) + s.slice(sign.length);
      } else s = ' '.repeat(pad) + s;
    }
    out += s;
  }
  if (argi < args.length) out += '%!(EXTRA ' + args.slice(argi).map((a) => `${typeName(a)}=${formatValue(a)}`).join(', ') + ')';
  return out;
}

function goExp(x: number, prec: number): string {
  const [m, e] = x.toExponential(prec).split('e');
  const n = Number(e);
  return `${m}e${n < 0 ? '-' : '+'}${Math.abs(n) < 10 ? '0' : ''}${Math.abs(n)}`;
}

function typeName(a: unknown): string {
  if (typeof a === 'string') return 'string';
  if (typeof a === 'number') return Number.isInteger(a) ? 'int' : 'float64';
  if (typeof a === 'boolean') return 'bool';
  if (a == null) return '<nil>';
  if (Array.isArray(a)) return '[]interface {}';
  return 'map[string]interface {}';
}

function goQuote(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Go's fmt.Sprint: a space between operands when neither side is a string. */
function goSprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatValue(a);
  });
  return out;
}

function titleCase(s: string): string {
  return s.replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, pre: string, ch: string) => pre + ch.toUpperCase());
}

/** docker's json function: encoding/json without HTML escaping, newline trimmed. */
export function goJson(v: unknown): string {
  const s = JSON.stringify(v === undefined ? null : v);
  if (s === undefined) return 'null';
  // formatter contexts marshal themselves with json.Marshal, which escapes HTML characters
  return isStrict(v) ? s.replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`) : s;
}

function builtins(): Map<string, TemplateFunc> {
  const f = new Map<string, TemplateFunc>();
  f.set('json', (v) => goJson(v));
  f.set('split', (s, sep) => String(s).split(String(sep)));
  f.set('join', (a, sep) => {
    if (!Array.isArray(a)) throw new Error(`wrong type for value; expected []string; got ${typeName(a)}`);
    return a.map((x) => formatValue(x)).join(String(sep));
  });
  f.set('title', (s) => titleCase(String(s)));
  f.set('lower', (s) => String(s).toLowerCase());
  f.set('upper', (s) => String(s).toUpperCase());
  f.set('pad', (s, pre, post) => ' '.repeat(Number(pre)) + String(s) + ' '.repeat(Number(post)));
  f.set('truncate', (s, n) => {
    const str = String(s);
    return str.length < Number(n) ? str : str.slice(0, Number(n));
  });
  f.set('printf', (fmt, ...args) => sprintf(String(fmt), ...args));
  f.set('print', (...args) => goSprint(args));
  f.set('println', (...args) => args.map((a) => formatValue(a)).join(' ') + '\n');
  f.set('len', (v) => lengthOf(v));
  f.set('index', (v, ...keys) => {
    let cur: unknown = v;
    for (const k of keys) {
      if (cur == null) throw new Error('index of untyped nil');
      if (Array.isArray(cur) || typeof cur === 'string') {
        const n = Number(k);
        if (!Number.isInteger(n) || n < 0 || n >= cur.length) throw new Error(`index out of range: ${formatValue(k)}`);
        cur = cur[n];
      } else if (cur instanceof Map) cur = cur.get(k);
      else if (typeof cur === 'object') cur = plainOf(cur)[String(k)];
      else throw new Error(`can't index item of type ${typeName(cur)}`);
    }
    return cur;
  });
  f.set('slice', (v, ...idx) => {
    const a = idx.map(Number);
    if (typeof v === 'string' || Array.isArray(v)) return v.slice(a[0] ?? 0, a[1]);
    throw new Error(`can't slice item of type ${typeName(v)}`);
  });
  f.set('not', (v) => !truthy(v));
  f.set('and', (...args) => {
    for (const a of args) if (!truthy(a)) return a;
    return args[args.length - 1];
  });
  f.set('or', (...args) => {
    for (const a of args) if (truthy(a)) return a;
    return args[args.length - 1];
  });
  f.set('eq', (a, ...rest) => {
    if (rest.length === 0) throw new Error('missing argument for comparison');
    return rest.some((b) => basicEq(a, b));
  });
  f.set('ne', (a, b) => !basicEq(a, b));
  f.set('lt', (a, b) => compare(a, b) < 0);
  f.set('le', (a, b) => compare(a, b) <= 0);
  f.set('gt', (a, b) => compare(a, b) > 0);
  f.set('ge', (a, b) => compare(a, b) >= 0);
  f.set('html', (...args) =>
    goSprint(args).replace(/[<>&'"\0]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&#39;', '"': '&#34;', '\0': '\uFFFD' })[c]!),
  );
  f.set('urlquery', (...args) => encodeURIComponent(goSprint(args)).replace(/%20/g, '+'));
  return f;
}

// ---------------------------------------------------------------- execution

interface Scope {
  vars: Map<string, unknown>[];
}

export class Template {
  private constructor(private readonly nodes: Node[], private readonly funcs: Map<string, TemplateFunc>) {}

  static parse(source: string, extraFuncs: Record<string, TemplateFunc> = {}): Template {
    const funcs = builtins();
    for (const [k, v] of Object.entries(extraFuncs)) funcs.set(k, v);
    return new Template(new Parser(splitPieces(source), funcs).parseAll(), funcs);
  }

  execute(data: unknown): string {
    const out: string[] = [];
    this.walk(this.nodes, data, { vars: [new Map([['$', data]])] }, out);
    return out.join('');
  }

  private walk(nodes: Node[], dot: unknown, scope: Scope, out: string[]): void {
    for (const node of nodes) {
      switch (node.n) {
        case 'text':
          out.push(node.text);
          break;
        case 'action': {
          const v = this.evalPipeline(node.pipe, dot, scope);
          if (node.pipe.decl.length === 0) out.push(formatValue(v));
          break;
        }
        case 'if':
        case 'with': {
          scope.vars.push(new Map());
          try {
            const v = this.evalPipeline(node.pipe, dot, scope);
            if (truthy(v)) this.walk(node.body, node.n === 'with' ? v : dot, scope, out);
            else this.walk(node.elseBody, dot, scope, out);
          } finally {
            scope.vars.pop();
          }
          break;
        }
        case 'range':
          this.walkRange(node, dot, scope, out);
          break;
      }
    }
  }

  private walkRange(node: ControlNode, dot: unknown, scope: Scope, out: string[]): void {
    const pipe = { ...node.pipe, decl: [] as string[] };
    const v = this.evalPipeline(pipe, dot, scope);
    let entries: [unknown, unknown][];
    if (v == null) entries = [];
    else if (Array.isArray(v)) entries = v.map((x, i) => [i, x]);
    else if (v instanceof Map) entries = [...v.entries()].sort((a, b) => compare(a[0], b[0]));
    else if (typeof v === 'number' && Number.isInteger(v)) entries = Array.from({ length: Math.max(0, v) }, (_x, i) => [i, i]);
    else if (typeof v === 'object') {
      const o = plainOf(v);
      entries = Object.keys(o).sort().map((k) => [k, o[k]]);
    } else throw this.execError(node.pipe.line, `range can't iterate over ${formatValue(v)}`);
    if (entries.length === 0) {
      this.walk(node.elseBody, dot, scope, out);
      return;
    }
    for (const [k, e] of entries) {
      const frame = new Map<string, unknown>();
      const d = node.pipe.decl;
      if (d.length === 1) frame.set(d[0]!, e);
      else if (d.length === 2) {
        frame.set(d[0]!, k);
        frame.set(d[1]!, e);
      }
      scope.vars.push(frame);
      try {
        this.walk(node.body, e, scope, out);
      } finally {
        scope.vars.pop();
      }
    }
  }

  private execError(line: number, msg: string): TemplateError {
    return new TemplateError(`template: :${line}: executing "" at <>: ${msg}`);
  }

  private evalPipeline(pipe: Pipeline, dot: unknown, scope: Scope): unknown {
    let val: unknown = undefined;
    let first = true;
    for (const cmd of pipe.cmds) {
      val = this.evalCommand(cmd, dot, scope, first ? undefined : { v: val }, pipe.line);
      first = false;
    }
    if (pipe.decl.length) {
      if (pipe.assign) {
        for (let i = scope.vars.length - 1; i >= 0; i--)
          if (scope.vars[i]!.has(pipe.decl[0]!)) {
            scope.vars[i]!.set(pipe.decl[0]!, val);
            return val;
          }
        throw this.execError(pipe.line, `undefined variable: ${pipe.decl[0]}`);
      }
      scope.vars[scope.vars.length - 1]!.set(pipe.decl[0]!, val);
    }
    return val;
  }

  private evalCommand(cmd: Command, dot: unknown, scope: Scope, piped: { v: unknown } | undefined, line: number): unknown {
    const head = cmd.args[0]!;
    if (head.t === 'fn') {
      const fn = this.funcs.get(head.name)!;
      const args = cmd.args.slice(1).map((a) => this.evalOperand(a, dot, scope, line));
      if (piped) args.push(piped.v);
      try {
        return fn(...args);
      } catch (e) {
        if (e instanceof TemplateError) throw e;
        throw new TemplateError(`template: :${line}: executing "" at <${head.name}>: error calling ${head.name}: ${(e as Error).message}`);
      }
    }
    if (cmd.args.length > 1 || piped) {
      // a method-valued field called with arguments
      const fnv = this.evalOperand(head, dot, scope, line);
      if (typeof fnv === 'function') {
        const args = cmd.args.slice(1).map((a) => this.evalOperand(a, dot, scope, line));
        if (piped) args.push(piped.v);
        return (fnv as TemplateFunc)(...args);
      }
      throw new TemplateError(`template: :${line}: executing "" at <${describe(head)}>: can't give argument to non-function ${describe(head)}`);
    }
    return this.evalOperand(head, dot, scope, line);
  }

  private evalOperand(op: Operand, dot: unknown, scope: Scope, line: number): unknown {
    switch (op.t) {
      case 'lit':
        return op.v;
      case 'field':
        return this.walkFields(dot, op.names, line, op.pos);
      case 'var': {
        for (let i = scope.vars.length - 1; i >= 0; i--)
          if (scope.vars[i]!.has(op.name)) return this.walkFields(scope.vars[i]!.get(op.name), op.names, line);
        throw new TemplateError(`template: :${line}: undefined variable "${op.name}"`);
      }
      case 'sub':
        return this.walkFields(this.evalPipeline(op.pipe, dot, scope), op.names, line);
      case 'fn': {
        const fn = this.funcs.get(op.name)!;
        try {
          return fn();
        } catch (e) {
          throw new TemplateError(`template: :${line}: executing "" at <${op.name}>: error calling ${op.name}: ${(e as Error).message}`);
        }
      }
    }
  }

  private walkFields(v: unknown, names: string[], lineNo: number, pos?: number): unknown {
    let cur = v;
    let col = pos;
    let line: string | number = lineNo;
    for (const name of names) {
      // Go reports the column of the field that failed
      if (col !== undefined) line = `${lineNo}:${col}`;
      if (col !== undefined) col += name.length + 1;
      if (cur === null || cur === undefined) return undefined;
      if (isStrict(cur)) {
        if (!(name in cur)) {
          throw new TemplateError(`template: :${line}: executing "" at <.${names.join('.')}>: can't evaluate field ${name} in type ${cur.templateTypeName}`);
        }
        const got = (cur as unknown as Record<string, unknown>)[name];
        cur = typeof got === 'function' ? (got as () => unknown).call(cur) : got;
      } else if (cur instanceof Map) cur = cur.get(name);
      else if (typeof cur === 'object') {
        cur = Object.prototype.hasOwnProperty.call(cur, name) ? (cur as Record<string, unknown>)[name] : undefined;
      } else {
        throw new TemplateError(`template: :${line}: executing "" at <.${names.join('.')}>: can't evaluate field ${name} in type ${typeName(cur)}`);
      }
    }
    return cur;
  }
}

function describe(op: Operand): string {
  if (op.t === 'field') return '.' + op.names.join('.');
  if (op.t === 'var') return op.name + (op.names.length ? '.' + op.names.join('.') : '');
  return formatValue(op.t === 'lit' ? op.v : '');
}

/** Parse a --format string; errors carry docker's "template parsing error: " prefix. */
export function parseFormat(source: string, extraFuncs?: Record<string, TemplateFunc>): Template {
  try {
    return Template.parse(source, extraFuncs);
  } catch (e) {
    if (e instanceof TemplateError) throw new TemplateError(`template parsing error: ${e.message}`);
    throw e;
  }
}
