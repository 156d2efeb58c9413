/**
 * The daemon's logger: dockerd's levels and logrus' text format on stderr, so operators can read and
 * grep berthd's output the way they read dockerd's:
 *   time="2026-11-29T20:36:00.123456789Z" level=info msg="API listen on /run/berth/berth.sock"
 */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFields = Record<string, string | number | boolean | undefined>;

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

export interface Logger {
  level: LogLevel;
  enabled(level: LogLevel): boolean;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  fatal(msg: string, fields?: LogFields): void;
}

/** logrus quotes a value only when it needs to; we do the same so simple values stay greppable. */
function formatValue(v: string): string {
  return /^[A-Za-z0-9._\-/:@+]+$/.test(v) ? v : JSON.stringify(v);
}

/** RFC 3339 with nanoseconds, as logrus prints it; JS clocks stop at milliseconds. */
function timestamp(now: Date): string {
  return now.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

export function formatLogLine(level: LogLevel, msg: string, fields: LogFields | undefined, now: Date): string {
  let line = `time="${timestamp(now)}" level=${level} msg=${JSON.stringify(msg)}`;
  if (fields) {
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${formatValue(String(v))}`;
  }
  return line + '\n';
}

export function createLogger(level: LogLevel = 'info', write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const rank = (l: LogLevel): number => LOG_LEVELS.indexOf(l);
  const logger: Logger = {
    level,
    enabled: (l) => rank(l) >= rank(logger.level),
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    fatal: (m, f) => emit('fatal', m, f),
  };
  function emit(l: LogLevel, msg: string, fields?: LogFields): void {
    if (logger.enabled(l)) write(formatLogLine(l, msg, fields, new Date()));
  }
  return logger;
}

/** The process-wide logger; berthd sets its level from --log-level at start-up. */
export const log: Logger = createLogger();
