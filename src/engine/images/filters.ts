import { invalidArgument } from '../../errors.js';
import type { ImageRecord } from '../../store/image-records.js';
import type { ImageStore } from './image-store.js';
import { createdSeconds, imageConfig } from './views.js';

export type Filters = Map<string, string[]>;

/** Go's path.Match, which Docker uses for `reference=` filters: `*` and `?` stop at '/'. */
export function globMatch(pattern: string, s: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw invalidArgument(`invalid reference filter pattern: ${pattern}`);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^')) cls = '^' + cls.slice(1).replace(/\\/g, '\\\\');
      re += `[${cls}]`;
      i = end;
    } else if (ch === '\\' && i + 1 < pattern.length) re += '\\' + pattern[++i];
    else re += ch.replace(/[.+^${}()|\]\\]/g, '\\$&');
  }
  return new RegExp(re + '$').test(s);
}

/** Docker's filter semantics: `k` means the label exists, `k=v` that it has that value. */
export function labelsMatch(labels: Record<string, string> | null | undefined, wanted: readonly string[]): boolean {
  return wanted.every((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) return labels != null && w in labels;
    return labels?.[w.slice(0, eq)] === w.slice(eq + 1);
  });
}

/** Docker's `until`/`since` timestamps: RFC 3339, unix seconds (with fraction), or a Go duration ago ("10m"). */
export function parseTimestamp(v: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const dur = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)$/.exec(v);
  if (dur) {
    const mult: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
    return now - Number(dur[1]) * mult[dur[2]];
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalidArgument(`invalid timestamp: ${v}`);
  return t;
}

const IMAGE_FILTERS = new Set(['dangling', 'label', 'label!', 'reference', 'before', 'since', 'until']);

export function validateFilters(filters: Filters, allowed: Set<string> = IMAGE_FILTERS): void {
  for (const key of filters.keys()) if (!allowed.has(key)) throw invalidArgument(`invalid filter '${key}'`);
}

/**
 * Docker's reference.FamiliarMatch over several patterns: a familiar `name:tag` or `name@digest` matches when the
 * pattern matches the whole string or just its name.
 */
export function referenceMatches(patterns: string[], familiar: string): boolean {
  const at = familiar.indexOf('@');
  const colon = familiar.lastIndexOf(':');
  // A colon before the last slash belongs to a registry port, not a tag.
  const end = at >= 0 ? at : colon > familiar.lastIndexOf('/') ? colon : familiar.length;
  const name = familiar.slice(0, end);
  return patterns.some((p) => globMatch(p, familiar) || globMatch(p, name));
}

/** `parents`: IDs of images that are another image's parent (an untagged one of those is not dangling). */
export function imageMatches(store: ImageStore, img: ImageRecord, filters: Filters, parents?: ReadonlySet<string>): boolean {
  const tags = store.repoTags(img.id);
  const dangling = filters.get('dangling');
  if (dangling?.length) {
    const v = dangling[0].toLowerCase();
    if (v !== 'true' && v !== 'false' && v !== '1' && v !== '0') throw invalidArgument(`invalid filter 'dangling=${dangling[0]}'`);
    const want = v === 'true' || v === '1';
    if (want !== (tags.length === 0 && !parents?.has(img.id))) return false;
  }
  const labels = imageConfig(img).config?.Labels;
  const label = filters.get('label');
  if (label?.length && !labelsMatch(labels, label)) return false;
  const notLabel = filters.get('label!');
  if (notLabel?.length && notLabel.some((l) => labelsMatch(labels, [l]))) return false;
  const refs = filters.get('reference');
  if (refs?.length && !tags.some((t) => referenceMatches(refs, t))) return false;
  const created = createdSeconds(img) * 1000;
  for (const b of filters.get('before') ?? []) if (created >= createdSeconds(store.resolve(b)) * 1000) return false;
  for (const s of filters.get('since') ?? []) if (created <= createdSeconds(store.resolve(s)) * 1000) return false;
  for (const u of filters.get('until') ?? []) if (created >= parseTimestamp(u)) return false;
  return true;
}
