/**
 * Dockerfile -> typed instructions grouped into stages, with Docker's rules and error messages. Variables are
 * not expanded here (see expand.ts): the values depend on ARG/ENV state the executor holds.
 */
import { BerthError, invalidArgument } from '../errors.js';
import {
  type EscapeChar,
  type Heredoc,
  parseHeredocWord,
  parseJsonArray,
  parseWords,
  splitCommand,
  splitLogicalLines,
  splitWhitespace,
} from './dockerfile-lexer.js';
import { parseGoDuration } from './go-duration.js';

export type { EscapeChar, Heredoc } from './dockerfile-lexer.js';

export type CommandForm = { form: 'exec'; args: string[] } | { form: 'shell'; line: string };

interface Base {
  /** 1-based line where the instruction starts (0 for an ONBUILD trigger read from an image) */
  line: number;
  /** the instruction as written, continuations joined with the escape removed, for "Step N/M : <original>" and history */
  original: string;
  /** flags that were given, `--name=value`; a bare boolean flag is "true"; a repeated RUN --mount is joined by "\n" */
  flags: Record<string, string>;
}

export type Instruction = Base &
  (
    | { kind: 'FROM'; image: string; stageName?: string }
    | {
        kind: 'RUN';
        /**
         * With heredocs this is already the script Docker runs: the body alone for `RUN <<EOF`, else the line
         * followed by each body and terminator for the shell to read.
         */
        command: CommandForm;
        /** only when the line opens heredocs. One heredoc whose body starts with "#!" is to be run as a file */
        heredocs?: Heredoc[];
      }
    | { kind: 'CMD' | 'ENTRYPOINT'; command: CommandForm }
    | { kind: 'SHELL'; shell: string[] }
    | { kind: 'ENV' | 'LABEL'; pairs: Array<[string, string]> }
    | { kind: 'ARG'; args: Array<{ name: string; value?: string }> }
    | { kind: 'EXPOSE'; ports: string[] }
    | {
        kind: 'COPY' | 'ADD';
        /** context/stage/URL sources; heredoc sources are not in this list but in `heredocs` */
        sources: string[];
        dest: string;
        /** inline files `COPY <<EOF /dest`: each makes a file named `name` with `content` */
        heredocs?: Heredoc[];
      }
    | { kind: 'VOLUME'; paths: string[] }
    | { kind: 'USER'; user: string }
    | { kind: 'WORKDIR'; path: string }
    | { kind: 'STOPSIGNAL'; signal: string }
    | { kind: 'MAINTAINER'; name: string }
    | {
        kind: 'HEALTHCHECK';
        /** null = NONE; else ["CMD", ...args] or ["CMD-SHELL", line] */
        test: string[] | null;
        /** durations in nanoseconds, as Docker's HealthConfig */
        interval?: number;
        timeout?: number;
        startPeriod?: number;
        startInterval?: number;
        retries?: number;
      }
    | { kind: 'ONBUILD'; trigger: Instruction }
  );

export type InstructionKind = Instruction['kind'];
export type InstructionOf<K extends InstructionKind> = Instruction & { kind: K };

export interface Stage {
  index: number;
  name?: string;
  from: InstructionOf<'FROM'>;
  instructions: Instruction[];
}

export interface Dockerfile {
  escape: EscapeChar;
  metaArgs: Array<InstructionOf<'ARG'>>;
  stages: Stage[];
  warnings: string[];
}

export interface ParseOptions {
  /** the Dockerfile's name for the "cannot be empty" message; default "Dockerfile" */
  name?: string;
}

/** Parses a whole Dockerfile. Throws BerthError invalid_argument with Docker's message on any syntax error. */
export function parseDockerfile(text: string, options: ParseOptions = {}): Dockerfile {
  if (text.length === 0) throw invalidArgument(`the Dockerfile (${options.name ?? 'Dockerfile'}) cannot be empty`);
  const split = splitLogicalLines(text);
  if (split.lines.length === 0) throw invalidArgument('file with no instructions');
  const metaArgs: Array<InstructionOf<'ARG'>> = [];
  const stages: Stage[] = [];
  for (const l of split.lines) {
    let inst: Instruction;
    try {
      inst = buildInstruction(l.text, split.escape, l.startLine, l.heredocs);
    } catch (err) {
      if (err instanceof InstructionError) throw invalidArgument(`dockerfile parse error on line ${l.startLine}: ${err.message}`);
      throw err;
    }
    if (inst.kind === 'FROM') {
      if (inst.stageName && stages.some((s) => s.name === inst.stageName)) {
        throw invalidArgument(`${inst.stageName} stage name already used`);
      }
      stages.push({ index: stages.length, ...(inst.stageName ? { name: inst.stageName } : {}), from: inst, instructions: [] });
      continue;
    }
    const current = stages[stages.length - 1];
    if (current) current.instructions.push(inst);
    else if (inst.kind === 'ARG') metaArgs.push(inst);
    else throw invalidArgument('no build stage in current context');
  }
  if (stages.length === 0) throw invalidArgument('No image was generated. Is your Dockerfile empty?');
  return { escape: split.escape, metaArgs, stages, warnings: split.warnings };
}

/**
 * Parses one logical line into an instruction; also how an ONBUILD trigger stored in an image's config is read
 * back (`parseInstructionLine(trigger, escape, 0)`). Instruction-level errors come out without the
 * "dockerfile parse error on line N:" prefix parseDockerfile adds.
 */
export function parseInstructionLine(text: string, escape: EscapeChar = '\\', line = 0): Instruction {
  try {
    return buildInstruction(text, escape, line);
  } catch (err) {
    if (err instanceof InstructionError) throw invalidArgument(err.message);
    throw err;
  }
}

/** An error Docker reports with the line prefix (raised while giving the line its meaning). */
class InstructionError extends BerthError {
  constructor(message: string) {
    super('invalid_argument', message);
  }
}
const fail = (message: string): InstructionError => new InstructionError(message);

const atLeastOne = (cmd: string): InstructionError => fail(`${cmd} requires at least one argument`);
const exactlyOne = (cmd: string): InstructionError => fail(`${cmd} requires exactly one argument`);
const noDestination = (cmd: string): InstructionError =>
  fail(`${cmd} requires at least two arguments, but only one was provided. Destination could not be determined`);
const blankNames = (cmd: string): InstructionError => fail(`${cmd} names can not be blank`);

type FlagKind = 'bool' | 'string' | 'strings';

/** Docker's BFlags: only declared flags, `--name=value` (a bool may omit the value), no repeats but for lists. */
function parseFlags(given: string[], declared: Record<string, FlagKind>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of given) {
    if (!raw.startsWith('--')) throw fail(`Arg should start with -- : ${raw}`);
    if (raw === '--') break;
    const body = raw.slice(2);
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const value = eq >= 0 ? body.slice(eq + 1) : '';
    const kind = Object.prototype.hasOwnProperty.call(declared, name) ? declared[name] : undefined;
    if (kind === undefined) throw fail(`Unknown flag: ${name}`);
    if (out[name] !== undefined && kind !== 'strings') throw fail(`Duplicate flag specified: ${name}`);
    if (kind === 'bool') {
      if (eq >= 0 && value === '') throw fail(`Missing a value on flag: ${name}`);
      const lower = value.toLowerCase();
      if (lower === '') out[name] = 'true';
      else if (lower === 'true' || lower === 'false') out[name] = lower;
      else throw fail(`Expecting boolean value for flag ${name}, not: ${value}`);
    } else {
      if (eq < 0) throw fail(`Missing a value on flag: ${name}`);
      out[name] = kind === 'strings' && out[name] !== undefined ? `${out[name]}\n${value}` : value;
    }
  }
  return out;
}

const FLAGS = {
  none: {},
  from: { platform: 'string' },
  copy: { chown: 'string', chmod: 'string', from: 'string', link: 'bool' },
  add: { chown: 'string', chmod: 'string', link: 'bool', 'keep-git-dir': 'bool', checksum: 'string' },
  // Kept raw for the executor to accept or refuse; Docker's classic builder knows none of them.
  run: { network: 'string', security: 'string', mount: 'strings' },
  healthcheck: { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' },
} satisfies Record<string, Record<string, FlagKind>>;

/** Exec form when the arguments are a JSON string array; otherwise the rest of the line, as written. */
function commandForm(rest: string): CommandForm {
  if (rest === '') return { form: 'shell', line: '' };
  const json = parseJsonArray(rest);
  return json ? { form: 'exec', args: json } : { form: 'shell', line: rest };
}

/** ENV/LABEL: `k=v k2="v 2"` (quotes kept), or the legacy `k the rest of the line`. */
function nameValuePairs(rest: string, cmd: 'ENV' | 'LABEL', escape: EscapeChar): Array<[string, string]> {
  const words = parseWords(rest, escape);
  if (words.length === 0) throw atLeastOne(cmd);
  const first = words[0] as string;
  let pairs: Array<[string, string]>;
  if (!first.includes('=')) {
    const m = /[\t\v\f\r ]+/.exec(rest);
    // Raised by Docker's line parser, so it carries no line prefix.
    if (!m) throw invalidArgument(`${cmd} must have two arguments`);
    pairs = [[rest.slice(0, m.index), rest.slice(m.index + m[0].length)]];
  } else {
    pairs = words.map((w) => {
      const eq = w.indexOf('=');
      if (eq < 0) throw invalidArgument(`Syntax error - can't find = in ${JSON.stringify(w)}. Must be of the form: name=value`);
      return [w.slice(0, eq), w.slice(eq + 1)] as [string, string];
    });
  }
  if (pairs.some(([k]) => k === '')) throw blankNames(cmd);
  return pairs;
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

const ONBUILD_PREFIX = /^\s*ONBUILD\s*/i;

function buildInstruction(text: string, escape: EscapeChar, line: number, heredocs: Heredoc[] = []): Instruction {
  const { keyword, word, flags: given, rest } = splitCommand(text);
  const original = text.trim();
  const base = (flags: Record<string, string>): Base => ({ line, original, flags });
  const upper = keyword.toUpperCase();

  switch (keyword) {
    case 'from': {
      const args = splitWhitespace(rest);
      let stageName: string | undefined;
      if (args.length === 3 && (args[1] as string).toLowerCase() === 'as') {
        stageName = (args[2] as string).toLowerCase();
        if (!STAGE_NAME.test(stageName)) {
          throw fail(`invalid name for build stage: ${JSON.stringify(args[2])}, name can't start with a number or contain symbols`);
        }
      } else if (args.length !== 1) {
        throw fail('FROM requires either one or three arguments');
      }
      const flags = parseFlags(given, FLAGS.from);
      return { ...base(flags), kind: 'FROM', image: args[0] as string, ...(stageName ? { stageName } : {}) };
    }
    case 'run':
    case 'cmd':
    case 'entrypoint': {
      const command = commandForm(rest); // JSON errors are the line parser's, before the flags are looked at
      const flags = parseFlags(given, keyword === 'run' ? FLAGS.run : FLAGS.none);
      if (keyword === 'run' && heredocs.length > 0 && command.form === 'shell') {
        return { ...base(flags), kind: 'RUN', command: { form: 'shell', line: heredocScript(command.line, heredocs) }, heredocs };
      }
      const kind = upper as 'RUN' | 'CMD' | 'ENTRYPOINT';
      return { ...base(flags), kind, command };
    }
    case 'shell': {
      const json = rest === '' ? undefined : parseJsonArray(rest);
      const flags = parseFlags(given, FLAGS.none);
      if (json && json.length === 0) throw atLeastOne('SHELL');
      if (!json) throw fail('SHELL requires the arguments to be in JSON form');
      return { ...base(flags), kind: 'SHELL', shell: json };
    }
    case 'env':
    case 'label': {
      const kind = upper as 'ENV' | 'LABEL';
      const pairs = rest === '' ? [] : nameValuePairs(rest, kind, escape);
      const flags = parseFlags(given, FLAGS.none);
      if (pairs.length === 0) throw atLeastOne(kind);
      return { ...base(flags), kind, pairs };
    }
    case 'arg': {
      // Docker never validates ARG's flags.
      const words = parseWords(rest, escape);
      if (words.length === 0) throw atLeastOne('ARG');
      const args = words.map((w) => {
        const eq = w.indexOf('=');
        if (eq < 0) return { name: w };
        if (eq === 0) throw blankNames('ARG');
        return { name: w.slice(0, eq), value: w.slice(eq + 1) };
      });
      return { ...base({}), kind: 'ARG', args };
    }
    case 'expose': {
      const ports = splitWhitespace(rest);
      if (ports.length === 0) throw atLeastOne('EXPOSE');
      const flags = parseFlags(given, FLAGS.none);
      return { ...base(flags), kind: 'EXPOSE', ports: [...ports].sort() };
    }
    case 'copy':
    case 'add': {
      const kind = upper as 'COPY' | 'ADD';
      const args = parseJsonArray(rest) ?? splitWhitespace(rest);
      if (args.length < 2) throw noDestination(kind);
      const flags = parseFlags(given, kind === 'COPY' ? FLAGS.copy : FLAGS.add);
      const dest = args[args.length - 1] as string;
      if (heredocs.length > 0 && parseHeredocWord(dest)) throw fail(`${kind} cannot accept a heredoc as a destination`);
      const sources = args.slice(0, -1);
      if (heredocs.length === 0) return { ...base(flags), kind, sources, dest };
      const inline = sources.filter((src) => parseHeredocWord(src) !== undefined);
      const ordered = inline.map((src) => heredocs.find((h) => h.name === parseHeredocWord(src)?.name) as Heredoc);
      return { ...base(flags), kind, sources: sources.filter((src) => !inline.includes(src)), dest, heredocs: ordered };
    }
    case 'volume': {
      const args = parseJsonArray(rest) ?? splitWhitespace(rest);
      if (args.length === 0) throw atLeastOne('VOLUME');
      const flags = parseFlags(given, FLAGS.none);
      const paths = args.map((p) => p.trim());
      if (paths.some((p) => p === '')) throw fail('VOLUME specified can not be an empty string');
      return { ...base(flags), kind: 'VOLUME', paths };
    }
    case 'user':
    case 'workdir':
    case 'maintainer':
    case 'stopsignal': {
      if (rest === '') throw exactlyOne(upper);
      // Docker never validates STOPSIGNAL's flags.
      const flags = keyword === 'stopsignal' ? {} : parseFlags(given, FLAGS.none);
      if (keyword === 'user') return { ...base(flags), kind: 'USER', user: rest };
      if (keyword === 'workdir') return { ...base(flags), kind: 'WORKDIR', path: rest };
      if (keyword === 'maintainer') return { ...base(flags), kind: 'MAINTAINER', name: rest };
      return { ...base(flags), kind: 'STOPSIGNAL', signal: rest };
    }
    case 'healthcheck':
      return healthcheck(rest, given, base);
    case 'onbuild': {
      if (rest === '') throw atLeastOne('ONBUILD');
      const flags = parseFlags(given, FLAGS.none);
      const triggerWord = splitCommand(rest).keyword.toUpperCase();
      if (triggerWord === 'ONBUILD') throw fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (triggerWord === 'MAINTAINER' || triggerWord === 'FROM') throw fail(`${triggerWord} isn't allowed as an ONBUILD trigger`);
      const expression = original.replace(ONBUILD_PREFIX, '');
      const trigger = buildInstruction(expression, escape, line);
      return { ...base(flags), kind: 'ONBUILD', trigger };
    }
    default:
      throw fail(`unknown instruction: ${word}`);
  }
}

/** What Docker hands to the shell for a shell-form RUN that opens heredocs. */
function heredocScript(line: string, heredocs: Heredoc[]): string {
  const only = heredocs[0];
  if (heredocs.length === 1 && only && parseHeredocWord(line.trim())) return only.content;
  return heredocs.reduce((script, h) => `${script}\n${h.content}${h.name}`, line);
}

function healthcheck(rest: string, given: string[], base: (flags: Record<string, string>) => Base): Instruction {
  const m = /\s+/u.exec(rest);
  const typeWord = m ? rest.slice(0, m.index) : rest;
  const cmdText = m ? rest.slice(m.index + m[0].length) : '';
  if (typeWord === '') throw atLeastOne('HEALTHCHECK');
  const type = typeWord.toUpperCase();
  const command = commandForm(cmdText);
  if (type === 'NONE') {
    // Docker does not even look at the flags of HEALTHCHECK NONE.
    if (cmdText !== '') throw fail('HEALTHCHECK NONE takes no arguments');
    return { ...base({}), kind: 'HEALTHCHECK', test: null };
  }
  const flags = parseFlags(given, FLAGS.healthcheck);
  if (type !== 'CMD') throw fail(`Unknown type ${JSON.stringify(type)} in HEALTHCHECK (try CMD)`);
  let test: string[];
  if (command.form === 'exec') {
    if (command.args.length === 0) throw fail('Missing command after HEALTHCHECK CMD');
    test = ['CMD', ...command.args];
  } else {
    if (command.line === '') throw fail('Missing command after HEALTHCHECK CMD');
    test = ['CMD-SHELL', command.line];
  }
  const timing: { interval?: number; timeout?: number; startPeriod?: number; startInterval?: number; retries?: number } = {};
  const durations = [
    ['interval', 'interval'],
    ['timeout', 'timeout'],
    ['start-period', 'startPeriod'],
    ['start-interval', 'startInterval'],
  ] as const;
  for (const [flag, field] of durations) {
    const v = flags[flag];
    if (v === undefined || v === '') continue;
    timing[field] = healthInterval(flag, v);
  }
  const retries = flags.retries;
  if (retries !== undefined && retries !== '') {
    if (!/^[+-]?\d+$/.test(retries)) throw fail(`strconv.ParseInt: parsing ${JSON.stringify(retries)}: invalid syntax`);
    const n = Number(retries);
    if (n > 2147483647 || n < -2147483648) throw fail(`strconv.ParseInt: parsing ${JSON.stringify(retries)}: value out of range`);
    if (n < 0) throw fail(`--retries cannot be negative (${n})`);
    timing.retries = n;
  }
  return { ...base(flags), kind: 'HEALTHCHECK', test, ...timing };
}

/** Docker's HealthConfig minimum: a set interval must be 0 (inherit) or at least 1ms. */
function healthInterval(flag: string, value: string): number {
  let ns: number;
  try {
    ns = parseGoDuration(value);
  } catch (err) {
    throw fail(err instanceof Error ? err.message : String(err));
  }
  if (ns !== 0 && ns < 1_000_000) throw fail(`Interval ${JSON.stringify(flag)} cannot be less than 1ms`);
  return ns;
}
