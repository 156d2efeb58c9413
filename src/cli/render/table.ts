/**
 * Go's text/tabwriter with docker's settings (minwidth 10, tabwidth 1, padding 3, pad ' ', no flags).
 * Cells are tab-terminated; text after a line's last tab is not a cell and is never padded.
 * Column widths are computed per column block (consecutive lines that have that column), as Go does.
 */
export interface TabwriterOptions {
  minWidth: number;
  padding: number;
}

export const DOCKER_TABWRITER: TabwriterOptions = { minWidth: 10, padding: 3 };

const displayWidth = (s: string): number => [...s].length;

export function tabwrite(text: string, opts: TabwriterOptions = DOCKER_TABWRITER): string {
  const endsWithNewline = text.endsWith('\n');
  const lines = (endsWithNewline ? text.slice(0, -1) : text).split('\n').map((l) => l.split('\t'));
  const out: string[] = [];
  const widths: number[] = [];

  const writeLines = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const cells = lines[i]!;
      let s = '';
      cells.forEach((c, j) => {
        if (j < widths.length && j < cells.length - 1) s += c + ' '.repeat(Math.max(0, widths[j]! - displayWidth(c)));
        else s += c;
      });
      out.push(s);
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    let start = line0;
    for (let i = line0; i < line1; i++) {
      if (column >= lines[i]!.length - 1) continue;
      writeLines(start, i);
      start = i;
      let width = opts.minWidth;
      let j = i;
      for (; j < line1; j++) {
        const cells = lines[j]!;
        if (column >= cells.length - 1) break;
        width = Math.max(width, displayWidth(cells[column]!) + opts.padding);
      }
      widths.push(width);
      format(start, j);
      widths.pop();
      start = j;
      i = j - 1;
    }
    writeLines(start, line1);
  };

  format(0, lines.length);
  if (text === '') return '';
  return out.join('\n') + (endsWithNewline ? '\n' : '');
}
