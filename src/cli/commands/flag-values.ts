/** Parsers for repeated command-line flags, shared by the commands that take them. */

/** commander's accumulator for a flag that may be given many times. */
export const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** `k=v` items as an object; an item without `=` maps to the empty string (later items win). */
export function keyValues(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const i = item.indexOf('=');
    out[i >= 0 ? item.slice(0, i) : item] = i >= 0 ? item.slice(i + 1) : '';
  }
  return out;
}
