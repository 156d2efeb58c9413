/**
 * Image commands: docker's flags, requests and output for pull, push, images, inspect, tag, rmi,
 * save, load, history, prune and import, both top-level and under `image`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Command } from 'commander';
import { BerthError, invalidArgument } from '../../errors.js';
import { DaemonError, encodeRegistryAuth, type Query } from '../api-client.js';
import { readLine, type CliContext } from '../context.js';
import { renderList, renderOne } from '../render/format.js';
import type { StrictContext } from '../render/template.js';
import { displayJsonMessages, type ProgressSink } from '../render/progress.js';
import { goTimeString, humanSize, humanSizeWithPrecision, rfc3339, timeAgo } from '../render/units.js';
import { familiarName, parseReference, referenceString, repositoryName, withDefaultTag, type Reference } from '../../registry/reference.js';
import { collect } from './flag-values.js';

export type ContextProvider = () => CliContext;

// ---------------------------------------------------------------- shared helpers

/** `--filter k=v` values as the API's filters JSON ({"k":{"v":true}}), or undefined when none. */
export function filtersJson(list: readonly string[], extra: Record<string, string[]> = {}): string | undefined {
  const filters: Record<string, Record<string, boolean>> = {};
  for (const f of list) {
    const i = f.indexOf('=');
    if (i <= 0) throw invalidArgument(`bad format of filter (expected name=value)`);
    const k = f.slice(0, i).trim().toLowerCase();
    (filters[k] ??= {})[f.slice(i + 1).trim()] = true;
  }
  for (const [k, vs] of Object.entries(extra)) for (const v of vs) (filters[k] ??= {})[v] = true;
  const keys = Object.keys(filters).sort();
  if (keys.length === 0) return undefined;
  // encoding/json sorts map keys; keep that so requests are byte-identical to docker's
  const sorted: Record<string, Record<string, boolean>> = {};
  for (const k of keys) {
    sorted[k] = {};
    for (const v of Object.keys(filters[k]!).sort()) sorted[k][v] = true;
  }
  return JSON.stringify(sorted);
}

/** stringid.TruncateID: drop the algorithm, keep 12 hex characters. */
export function truncateId(id: string): string {
  const i = id.indexOf(':');
  const hex = i >= 0 ? id.slice(i + 1) : id;
  return hex.length > 12 ? hex.slice(0, 12) : hex;
}

/** formatter.Ellipsis: cut to `max` display columns with a trailing "…". */
export function ellipsis(s: string, max: number): string {
  const chars = [...s];
  if (chars.length <= max) return s;
  if (max <= 0) return '';
  return chars.slice(0, max - 1).join('') + '…';
}

function authHeader(ctx: CliContext, ref: Reference): Record<string, string> {
  return { 'X-Registry-Auth': encodeRegistryAuth(ctx.config.authForDomain(ref.domain)) };
}

const discard: ProgressSink = { write: () => true, isTTY: false };

function progressSink(ctx: CliContext, quiet: boolean): ProgressSink {
  return quiet ? discard : ctx.io.stdout;
}

// ---------------------------------------------------------------- images / image ls

/** An image as GET /images/json (and the Images of GET /system/df) report it. */
export interface ImageSummary {
  Id: string;
  ParentId?: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Created: number;
  Size: number;
  SharedSize?: number;
  VirtualSize?: number;
  Labels?: Record<string, string> | null;
  Containers?: number;
}

const IMAGE_HEADERS = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  VirtualSize: 'VIRTUAL SIZE',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
};

export const DEFAULT_IMAGE_TABLE = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
export const DEFAULT_IMAGE_TABLE_DIGEST = 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';

/** One row of `docker images`, with formatter.imageContext's fields. */
export class ImageRow implements StrictContext {
  readonly templateTypeName = '*formatter.imageContext';
  constructor(
    private readonly image: ImageSummary,
    private readonly repo: string,
    private readonly tag: string,
    private readonly digest: string,
    private readonly trunc: boolean,
    private readonly now: number,
  ) {}
  get ID(): string {
    return this.trunc ? truncateId(this.image.Id) : this.image.Id;
  }
  get Repository(): string {
    return this.repo;
  }
  get Tag(): string {
    return this.tag;
  }
  get Digest(): string {
    return this.digest;
  }
  get CreatedSince(): string {
    return timeAgo(this.image.Created, this.now);
  }
  get CreatedAt(): string {
    return goTimeString(this.image.Created);
  }
  get Size(): string {
    return humanSizeWithPrecision(this.image.Size, 3);
  }
  get Containers(): string {
    const c = this.image.Containers ?? -1;
    return c === -1 ? 'N/A' : String(c);
  }
  get VirtualSize(): string {
    return humanSize(this.image.VirtualSize ?? this.image.Size);
  }
  get SharedSize(): string {
    const s = this.image.SharedSize ?? -1;
    return s === -1 ? 'N/A' : humanSizeWithPrecision(s, 3);
  }
  get UniqueSize(): string {
    const s = this.image.SharedSize ?? -1;
    return s === -1 ? 'N/A' : humanSizeWithPrecision(this.image.Size - s, 3);
  }
  /** docker marshals a formatter context as its fields, sorted by name. */
  toJSON(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of Object.keys(IMAGE_HEADERS).sort()) out[k] = (this as unknown as Record<string, string>)[k]!;
    return out;
  }
}

function isDangling(img: ImageSummary): boolean {
  const tags = img.RepoTags ?? [];
  const digests = img.RepoDigests ?? [];
  if (tags.length === 0 && digests.length === 0) return true;
  return tags.length === 1 && tags[0] === '<none>:<none>' && digests.length === 1 && digests[0] === '<none>@<none>';
}

/** The rows docker shows for one image: one per repository:tag (and per digest with --digests). */
export function imageRows(img: ImageSummary, opts: { digests: boolean; trunc: boolean; now: number }): ImageRow[] {
  const row = (repo: string, tag: string, digest: string): ImageRow => new ImageRow(img, repo, tag, digest, opts.trunc, opts.now);
  if (isDangling(img)) return [row('<none>', '<none>', '<none>')];
  const repoTags = new Map<string, string[]>();
  const repoDigests = new Map<string, string[]>();
  for (const s of img.RepoTags ?? []) {
    try {
      const ref = parseReference(s);
      if (ref.tag === undefined) continue;
      const name = familiarName(ref);
      repoTags.set(name, [...(repoTags.get(name) ?? []), ref.tag]);
    } catch {
      // docker skips references it cannot parse
    }
  }
  for (const s of img.RepoDigests ?? []) {
    try {
      const ref = parseReference(s);
      if (ref.digest === undefined) continue;
      const name = familiarName(ref);
      repoDigests.set(name, [...(repoDigests.get(name) ?? []), ref.digest]);
    } catch {
      // as above
    }
  }
  const rows: ImageRow[] = [];
  for (const [repo, tags] of repoTags) {
    let digests = repoDigests.get(repo) ?? [];
    repoDigests.delete(repo);
    if (!opts.digests) digests = [];
    for (const tag of tags) {
      if (digests.length === 0) rows.push(row(repo, tag, '<none>'));
      else for (const d of digests) rows.push(row(repo, tag, d));
    }
  }
  for (const [repo, digests] of repoDigests) {
    if (opts.digests) for (const d of digests) rows.push(row(repo, '<none>', d));
    else rows.push(row(repo, '<none>', ''));
  }
  return rows;
}

interface ImagesOptions {
  all?: boolean;
  quiet?: boolean;
  noTrunc?: boolean;
  digests?: boolean;
  filter: string[];
  format?: string;
}

function defineImagesList(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('List images')
    .argument('[REPOSITORY[:TAG]]')
    .option('-a, --all', 'Show all images (default hides intermediate images)')
    .option('--digests', 'Show digests')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect, [])
    .option('--format <string>', 'Format output using a custom template')
    .option('--no-trunc', "Don't truncate output")
    .option('-q, --quiet', 'Only show image IDs')
    .action(async (match: string | undefined, opts: ImagesOptions & { trunc?: boolean }) => {
      const ctx = context();
      const filters = filtersJson(opts.filter, match ? { reference: [match] } : {});
      const query: Query = { all: opts.all ? '1' : undefined, filters };
      const images = await ctx.client.getJson<ImageSummary[]>('/images/json', query);
      const trunc = opts.trunc !== false;
      let format = opts.format ?? 'table';
      if (format === 'table') format = opts.quiet ? '{{.ID}}' : opts.digests ? DEFAULT_IMAGE_TABLE_DIGEST : DEFAULT_IMAGE_TABLE;
      const now = Date.now();
      const rows = (images ?? []).flatMap((img) => imageRows(img, { digests: opts.digests === true, trunc, now }));
      ctx.out(renderList(format, rows, IMAGE_HEADERS));
    });
}

// ---------------------------------------------------------------- pull / push

interface PullOptions {
  quiet?: boolean;
  allTags?: boolean;
  platform?: string;
}

function definePull(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Download an image from a registry')
    .argument('<NAME[:TAG|@DIGEST]>')
    .option('-a, --all-tags', 'Download all tagged images in the repository')
    .option('--disable-content-trust', 'Skip image verification (default true)')
    .option('--platform <string>', 'Set platform if server is multi-platform capable')
    .option('-q, --quiet', 'Suppress verbose output')
    .action(async (name: string, opts: PullOptions) => {
      const ctx = context();
      let ref = parseReference(name);
      if (opts.allTags && (ref.tag !== undefined || ref.digest !== undefined)) {
        throw invalidArgument('tag can\'t be used with --all-tags/-a');
      }
      if (!opts.allTags && ref.tag === undefined && ref.digest === undefined) {
        ref = withDefaultTag(ref);
        if (!opts.quiet) ctx.out(`Using default tag: ${ref.tag}\n`);
      }
      const query: Query = {
        fromImage: repositoryName(ref),
        tag: opts.allTags ? undefined : (ref.digest ?? ref.tag),
        platform: opts.platform ? opts.platform.toLowerCase() : undefined,
      };
      const res = await ctx.client.request('POST', '/images/create', { query, headers: authHeader(ctx, ref) });
      await displayJsonMessages(res.body, progressSink(ctx, opts.quiet === true));
      ctx.out(referenceString(ref) + '\n');
    });
}

function definePush(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Upload an image to a registry')
    .argument('<NAME[:TAG]>')
    .option('-a, --all-tags', 'Push all tags of an image to the repository')
    .option('--disable-content-trust', 'Skip image signing (default true)')
    .option('--platform <string>', 'Push a platform-specific manifest as a single-platform image to the registry')
    .option('-q, --quiet', 'Suppress verbose output')
    .action(async (name: string, opts: PullOptions) => {
      const ctx = context();
      const parsed = parseReference(name);
      if (parsed.digest !== undefined) throw invalidArgument('cannot push a digest reference');
      if (opts.allTags && parsed.tag !== undefined) throw invalidArgument('tag can\'t be used with --all-tags/-a');
      let ref = parsed;
      if (!opts.allTags && ref.tag === undefined) {
        ref = withDefaultTag(ref);
        if (!opts.quiet) ctx.out(`Using default tag: ${ref.tag}\n`);
      }
      const query: Query = {
        tag: opts.allTags ? undefined : ref.tag,
        platform: opts.platform ? JSON.stringify(platformObject(opts.platform)) : undefined,
      };
      const res = await ctx.client.request('POST', `/images/${familiarName(ref)}/push`, { query, headers: authHeader(ctx, ref) });
      await displayJsonMessages(res.body, progressSink(ctx, opts.quiet === true));
      if (opts.quiet) ctx.out(referenceString(parsed) + '\n');
    });
}

/** "linux/amd64/v8" → the OCI platform object the push endpoint takes. */
function platformObject(p: string): Record<string, string> {
  const [os, architecture, variant] = p.toLowerCase().split('/');
  const out: Record<string, string> = { os: os ?? '' };
  if (architecture) out['architecture'] = architecture;
  if (variant) out['variant'] = variant;
  return out;
}

// ---------------------------------------------------------------- inspect

async function inspectImages(ctx: CliContext, names: string[], format: string | undefined, notFoundText?: (name: string) => string): Promise<void> {
  const found: unknown[] = [];
  const errors: string[] = [];
  for (const name of names) {
    try {
      found.push(await ctx.client.getJson<unknown>(`/images/${name}/json`));
    } catch (e) {
      if (notFoundText && e instanceof DaemonError && e.code === 'not_found') errors.push(notFoundText(name));
      else errors.push(formatCliError(e));
    }
  }
  if (!format) ctx.out(JSON.stringify(found, null, 4) + '\n');
  else for (const v of found) ctx.out(renderOne(format, v));
  if (errors.length) throw new PreformattedError(errors.join('\n'));
}

function defineImageInspect(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Display detailed information on one or more images')
    .argument('<IMAGE...>')
    .option('-f, --format <string>', 'Format output using a custom template')
    .option('--platform <string>', 'Inspect a specific platform of the multi-platform image')
    .action(async (names: string[], opts: { format?: string }) => {
      await inspectImages(context(), names, opts.format);
    });
}

// ---------------------------------------------------------------- tag / rmi

function defineTag(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
    .argument('<SOURCE_IMAGE[:TAG]>')
    .argument('<TARGET_IMAGE[:TAG]>')
    .action(async (source: string, target: string) => {
      const ctx = context();
      const t = parseReference(target);
      if (t.digest !== undefined) throw invalidArgument('refusing to create a tag with a digest reference');
      const ref = withDefaultTag(t);
      await ctx.client.request('POST', `/images/${source}/tag`, { query: { repo: familiarName(ref), tag: ref.tag } }).then((r) => r.body.resume());
    });
}

interface DeleteItem {
  Untagged?: string;
  Deleted?: string;
}

function defineRmi(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Remove one or more images')
    .argument('<IMAGE...>')
    .option('-f, --force', 'Force removal of the image')
    .option('--no-prune', 'Do not delete untagged parents')
    .option('--platform <strings>', 'Remove only the given platform variant')
    .action(async (names: string[], opts: { force?: boolean; prune?: boolean }) => {
      const ctx = context();
      const errors: string[] = [];
      let fatal = false;
      for (const name of names) {
        try {
          const items = await ctx.client.deleteJson<DeleteItem[]>(`/images/${name}`, {
            force: opts.force ? '1' : undefined,
            noprune: opts.prune === false ? '1' : undefined,
          });
          for (const it of items ?? []) ctx.out(it.Deleted ? `Deleted: ${it.Deleted}\n` : `Untagged: ${it.Untagged ?? ''}\n`);
        } catch (e) {
          if (!(e instanceof DaemonError && e.code === 'not_found')) fatal = true;
          errors.push(formatCliError(e));
        }
      }
      if (errors.length === 0) return;
      // docker: with --force, images that do not exist are only reported
      if (!opts.force || fatal) throw new PreformattedError(errors.join('\n'));
      ctx.err(errors.join('\n') + '\n');
    });
}

// ---------------------------------------------------------------- save / load

function defineSave(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Save one or more images to a tar archive (streamed to STDOUT by default)')
    .argument('<IMAGE...>')
    .option('-o, --output <string>', 'Write to a file, instead of STDOUT')
    .option('--platform <string>', 'Save only the given platform variant')
    .action(async (names: string[], opts: { output?: string }) => {
      const ctx = context();
      if (!opts.output && ctx.io.stdout.isTTY) {
        throw invalidArgument('cowardly refusing to save to a terminal. Use the -o flag or redirect');
      }
      if (opts.output) {
        const dir = path.dirname(path.resolve(opts.output));
        if (!fs.existsSync(dir)) throw invalidArgument(`failed to save image: invalid output path: directory "${path.dirname(opts.output)}" does not exist`);
      }
      const res = await ctx.client.request('GET', '/images/get', { query: { names } });
      if (!opts.output) {
        await pipeline(res.body, nonClosing(ctx.io.stdout));
        return;
      }
      // write beside the target and rename, so a failed save never leaves a truncated archive
      const tmp = path.join(path.dirname(path.resolve(opts.output)), `.${path.basename(opts.output)}.${process.pid}.tmp`);
      try {
        await pipeline(res.body, fs.createWriteStream(tmp, { mode: 0o644 }));
        fs.renameSync(tmp, opts.output);
      } catch (e) {
        fs.rmSync(tmp, { force: true });
        throw e;
      }
    });
}

/** A writable that forwards to `out` without ending it (stdout must stay open). */
export function nonClosing(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (out.write(chunk)) cb();
      else out.once('drain', () => cb());
    },
  });
}

function defineLoad(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Load an image from a tar archive or STDIN')
    .option('-i, --input <string>', 'Read from tar archive file, instead of STDIN')
    .option('--platform <string>', 'Load only the given platform variant')
    .option('-q, --quiet', 'Suppress the load output')
    .action(async (opts: { input?: string; quiet?: boolean }) => {
      const ctx = context();
      let body: NodeJS.ReadableStream;
      if (opts.input) {
        await assertReadable(opts.input);
        body = fs.createReadStream(opts.input);
      } else {
        if (ctx.io.stdin.isTTY) throw invalidArgument('requested load from stdin, but stdin is empty');
        body = ctx.io.stdin;
      }
      // docker asks for the quiet form whenever it is not drawing on a terminal
      const quiet = opts.quiet === true || !ctx.io.stdout.isTTY;
      const res = await ctx.client.request('POST', '/images/load', {
        query: { quiet: quiet ? '1' : undefined },
        body: body.pipe(new PassThrough()),
        contentType: 'application/x-tar',
      });
      if (String(res.headers['content-type'] ?? '').includes('application/json')) {
        await displayJsonMessages(res.body, ctx.io.stdout);
      } else {
        await pipeline(res.body, nonClosing(ctx.io.stdout));
      }
    });
}

async function assertReadable(file: string): Promise<void> {
  try {
    await fs.promises.access(file, fs.constants.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw invalidArgument(`open ${file}: ${why}`);
  }
}

// ---------------------------------------------------------------- history

interface HistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags?: string[] | null;
  Size: number;
  Comment: string;
}

const HISTORY_HEADERS = {
  ID: 'IMAGE',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  CreatedBy: 'CREATED BY',
  Size: 'SIZE',
  Comment: 'COMMENT',
};

export const DEFAULT_HISTORY_TABLE = 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';

export class HistoryRow implements StrictContext {
  readonly templateTypeName = '*formatter.historyContext';
  constructor(
    private readonly h: HistoryItem,
    private readonly trunc: boolean,
    private readonly human: boolean,
    private readonly now: number,
  ) {}
  get ID(): string {
    return this.trunc ? truncateId(this.h.Id) : this.h.Id;
  }
  get CreatedAt(): string {
    return rfc3339(this.h.Created);
  }
  get CreatedSince(): string {
    return this.human ? timeAgo(this.h.Created, this.now) : this.CreatedAt;
  }
  get CreatedBy(): string {
    const s = this.h.CreatedBy.replaceAll('\t', ' ');
    return this.trunc ? ellipsis(s, 45) : s;
  }
  get Size(): string {
    return this.human ? humanSizeWithPrecision(this.h.Size, 3) : String(this.h.Size);
  }
  get Comment(): string {
    return this.h.Comment;
  }
  toJSON(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of Object.keys(HISTORY_HEADERS).sort()) out[k] = (this as unknown as Record<string, string>)[k]!;
    return out;
  }
}

function defineHistory(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Show the history of an image')
    .argument('<IMAGE>')
    .option('--format <string>', 'Format output using a custom template')
    .option('-H, --human', 'Print sizes and dates in human readable format (default true)', true)
    .option('--no-human', 'Print raw sizes and dates')
    .option('--no-trunc', "Don't truncate output")
    .option('--platform <string>', 'Show history for the given platform')
    .option('-q, --quiet', 'Only show image IDs')
    .action(async (name: string, opts: { format?: string; human?: boolean; trunc?: boolean; quiet?: boolean }) => {
      const ctx = context();
      const items = await ctx.client.getJson<HistoryItem[]>(`/images/${name}/history`);
      let format = opts.format ?? 'table';
      if (format === 'table') format = opts.quiet ? '{{.ID}}' : DEFAULT_HISTORY_TABLE;
      const now = Date.now();
      const human = opts.human !== false;
      const rows = (items ?? []).map((h) => new HistoryRow(h, opts.trunc !== false, human, now));
      ctx.out(renderList(format, rows, human ? HISTORY_HEADERS : { ...HISTORY_HEADERS, CreatedSince: HISTORY_HEADERS.CreatedAt }));
    });
}

// ---------------------------------------------------------------- prune

const ALL_IMAGES_WARNING = `WARNING! This will remove all images without at least one container associated to them.
Are you sure you want to continue?`;
const DANGLING_WARNING = `WARNING! This will remove all dangling images.
Are you sure you want to continue?`;

/** prompt.Confirm: "[y/N]", only "y"/"Y" confirms; end of input declines. */
export async function confirm(ctx: CliContext, message: string): Promise<boolean> {
  ctx.out(`${message} [y/N] `);
  const line = await readLine(ctx.io.stdin);
  if (line === null) return false;
  const answer = line.trim();
  return answer === 'y' || answer === 'Y';
}

function definePrune(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Remove unused images')
    .option('-a, --all', 'Remove all unused images, not just dangling ones')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collect, [])
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (opts: { all?: boolean; filter: string[]; force?: boolean }) => {
      const ctx = context();
      const filters = filtersJson(opts.filter, { dangling: [String(!opts.all)] });
      // docker treats a declined prompt as a quiet success
      if (!opts.force && !(await confirm(ctx, opts.all ? ALL_IMAGES_WARNING : DANGLING_WARNING))) return;
      const report = await ctx.client.postJson<{ ImagesDeleted?: DeleteItem[] | null; SpaceReclaimed?: number }>('/images/prune', {
        query: { filters },
      });
      const deleted = report?.ImagesDeleted ?? [];
      if (deleted.length) {
        let s = 'Deleted Images:\n';
        for (const d of deleted) s += d.Untagged ? `untagged: ${d.Untagged}\n` : `deleted: ${d.Deleted ?? ''}\n`;
        ctx.out(s + '\n');
      }
      ctx.out(`Total reclaimed space: ${humanSize(report?.SpaceReclaimed ?? 0)}\n`);
    });
}

// ---------------------------------------------------------------- import

function defineImport(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Import the contents from a tarball to create a filesystem image')
    .argument('<file|URL|->')
    .argument('[REPOSITORY[:TAG]]')
    .option('-c, --change <list>', 'Apply Dockerfile instruction to the created image', collect, [])
    .option('-m, --message <string>', 'Set commit message for imported image')
    .option('--platform <string>', 'Set platform if server is multi-platform capable')
    .action(async (source: string, repo: string | undefined, opts: { change: string[]; message?: string; platform?: string }) => {
      const ctx = context();
      if (repo) parseReference(repo);
      let fromSrc = '-';
      let body: NodeJS.ReadableStream | undefined;
      if (source === '-') body = ctx.io.stdin;
      else if (/^https?:\/\//.test(source)) fromSrc = source;
      else {
        await assertReadable(source);
        body = fs.createReadStream(source);
      }
      const query: Query = {
        fromSrc,
        repo: repo ?? '',
        tag: '',
        message: opts.message ?? '',
        platform: opts.platform ? opts.platform.toLowerCase() : undefined,
        changes: opts.change.length ? opts.change : undefined,
      };
      const res = await ctx.client.request('POST', '/images/create', {
        query,
        body: body ? body.pipe(new PassThrough()) : undefined,
        // docker's client labels raw bodies text/plain
        contentType: 'text/plain',
      });
      await displayJsonMessages(res.body, ctx.io.stdout);
    });
}

// ---------------------------------------------------------------- registration

/** Errors whose text is final (no "Error response from daemon" prefix added again). */
export class PreformattedError extends BerthError {
  constructor(message: string) {
    super('internal', message);
    this.name = 'PreformattedError';
  }
}

/** The text docker prints for an error. */
export function formatCliError(e: unknown): string {
  if (e instanceof DaemonError) return `Error response from daemon: ${e.message}`;
  if (e instanceof Error) return e.message;
  return String(e);
}

export function registerImageCommands(program: Command, context: ContextProvider): void {
  defineImagesList(program.command('images'), context);
  definePull(program.command('pull'), context);
  definePush(program.command('push'), context);
  defineTag(program.command('tag'), context);
  defineRmi(program.command('rmi'), context);
  defineSave(program.command('save'), context);
  defineLoad(program.command('load'), context);
  defineHistory(program.command('history'), context);
  defineImport(program.command('import'), context);

  const image = program.command('image').description('Manage images');
  defineImagesList(image.command('ls').alias('list'), context);
  defineImageInspect(image.command('inspect'), context);
  defineRmi(image.command('rm').alias('remove'), context);
  definePull(image.command('pull'), context);
  definePush(image.command('push'), context);
  defineTag(image.command('tag'), context);
  defineSave(image.command('save'), context);
  defineLoad(image.command('load'), context);
  defineHistory(image.command('history'), context);
  definePrune(image.command('prune'), context);
  defineImport(image.command('import'), context);
}

