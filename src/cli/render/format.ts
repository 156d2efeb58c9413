/**
 * docker's formatter.Context: `table ...` formats get a header row (the template rendered over the
 * header names) and tabwriter alignment, `json` means `{{json .}}`, anything else is a plain template
 * rendered once per row with a newline after each.
 */
import { parseFormat, type Template, type TemplateFunc } from './template.js';
import { tabwrite } from './table.js';

/** Rendering the header row turns docker's string functions into identities, as HeaderFunctions does. */
const HEADER_FUNCS: Record<string, TemplateFunc> = {
  json: (v) => v,
  split: (v) => v,
  join: (v) => v,
  title: (v) => v,
  lower: (v) => v,
  upper: (v) => v,
  pad: (v) => v,
  truncate: (v) => v,
};

export function isTableFormat(format: string): boolean {
  return format.startsWith('table');
}

export function isJsonFormat(format: string): boolean {
  return format.trim() === 'json';
}

/** The template text docker actually executes for a --format value. */
export function finalFormat(format: string): string {
  let f = format;
  if (isTableFormat(f)) f = f.slice('table'.length);
  else if (isJsonFormat(f)) f = '{{json .}}';
  return f.trim().replaceAll('\\t', '\t').replaceAll('\\n', '\n');
}

export function renderList(format: string, rows: readonly unknown[], headers: Readonly<Record<string, string>>): string {
  const source = finalFormat(format);
  const tmpl: Template = parseFormat(source);
  let body = '';
  for (const row of rows) body += execute(tmpl, row) + '\n';
  if (!isTableFormat(format)) return body;
  const headerTmpl = parseFormat(source, HEADER_FUNCS);
  const header = execute(headerTmpl, new Map(Object.entries(headers)));
  return tabwrite(header + '\n' + body);
}

/** One object through a template (docker's inspect -f and version -f), newline appended. */
export function renderOne(format: string, value: unknown): string {
  const tmpl = parseFormat(finalFormat(format));
  return execute(tmpl, value) + '\n';
}

function execute(tmpl: Template, value: unknown): string {
  try {
    return tmpl.execute(value);
  } catch (e) {
    if (e instanceof Error && e.name === 'TemplateError' && !e.message.startsWith('template parsing error')) {
      e.message = `template parsing error: ${e.message}`;
    }
    throw e;
  }
}
