/** Small statistics and table rendering for benches. */

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function min(xs: number[]): number {
  return xs.length === 0 ? NaN : Math.min(...xs);
}

export function max(xs: number[]): number {
  return xs.length === 0 ? NaN : Math.max(...xs);
}

/** Seconds since `start` (a process.hrtime.bigint() value). */
export function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** A plain-text table with the first column left-aligned and the others right-aligned. */
export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function fmtSeconds(s: number): string {
  return Number.isFinite(s) ? `${s.toFixed(2)} s` : '-';
}

export function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}x` : '-';
}

export function fmtMiB(kib: number | undefined): string {
  return kib === undefined ? '-' : `${(kib / 1024).toFixed(1)} MiB`;
}
