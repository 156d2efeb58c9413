/**
 * The few bits of Go's fmt that the classic builder's history text depends on: `HEALTHCHECK %q` of a
 * *container.HealthConfig prints `&{["CMD-SHELL" "x"] "30s" "0s" "0s" "0s" '\x03'}`, so durations use
 * time.Duration.String and the retries int is printed as a quoted rune.
 */

/** Digits after the point of v / 10^prec, without trailing zeros ('' if none). */
function fraction(v: bigint, prec: number): { int: bigint; frac: string } {
  const scale = 10n ** BigInt(prec);
  const frac = (v % scale).toString().padStart(prec, '0').replace(/0+$/, '');
  return { int: v / scale, frac };
}

/** Go's time.Duration.String for a duration in nanoseconds. */
export function goDurationString(ns: number): string {
  let u = BigInt(Math.trunc(ns));
  const neg = u < 0n;
  if (neg) u = -u;
  const sign = neg ? '-' : '';
  if (u === 0n) return '0s';
  if (u < 1_000_000_000n) {
    if (u < 1000n) return `${sign}${u}ns`;
    const [prec, unit] = u < 1_000_000n ? [3, 'µs'] : [6, 'ms'];
    const { int, frac } = fraction(u, prec);
    return `${sign}${int}${frac ? `.${frac}` : ''}${unit}`;
  }
  const { int: secsTotal, frac } = fraction(u, 9);
  const secs = secsTotal % 60n;
  const minsTotal = secsTotal / 60n;
  const mins = minsTotal % 60n;
  const hours = minsTotal / 60n;
  let out = `${secs}${frac ? `.${frac}` : ''}s`;
  if (minsTotal > 0n) out = `${mins}m${out}`;
  if (hours > 0n) out = `${hours}h${out}`;
  return sign + out;
}

const RUNE_ESCAPES: Record<number, string> = { 7: '\\a', 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v', 39: "\\'", 92: '\\\\' };

/** Go's %q of an integer: a single-quoted rune literal (strconv.QuoteRune). */
export function goQuoteRune(n: number): string {
  if (RUNE_ESCAPES[n]) return `'${RUNE_ESCAPES[n]}'`;
  if (n >= 0x20 && n < 0x7f) return `'${String.fromCharCode(n)}'`;
  if (n < 0 || n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return "'�'";
  if (n < 0x80) return `'\\x${n.toString(16).padStart(2, '0')}'`;
  const ch = String.fromCodePoint(n);
  // Printable non-ASCII runes are shown as themselves; controls and the like as \u or \U escapes.
  if (/^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch)) return `'${ch}'`;
  return n <= 0xffff ? `'\\u${n.toString(16).padStart(4, '0')}'` : `'\\U${n.toString(16).padStart(8, '0')}'`;
}

/** Go's %q of a string: a double-quoted literal (close to JSON's, which is what the builder's inputs need). */
export function goQuote(s: string): string {
  return JSON.stringify(s).replace(/\\u007f/g, '\\x7f');
}

export interface HealthConfigValues {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** `%q` of a *HealthConfig as the classic builder writes it into the HEALTHCHECK history entry. */
export function goQuoteHealthConfig(hc: HealthConfigValues): string {
  const d = (v: number | undefined): string => goQuote(goDurationString(v ?? 0));
  return `&{[${hc.Test.map(goQuote).join(' ')}] ${d(hc.Interval)} ${d(hc.Timeout)} ${d(hc.StartPeriod)} ${d(hc.StartInterval)} ${goQuoteRune(hc.Retries ?? 0)}}`;
}
