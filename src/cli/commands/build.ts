/** `berth build` (docker's classic build client) and `berth builder prune`. */
import { randomBytes } from 'node:crypto';
import { lstat, readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { Command } from 'commander';
import tarStream from 'tar-stream';
import { createIgnoreMatcher, parseDockerignore } from '../../builder/dockerignore.js';
import { BerthError, invalidArgument } from '../../errors.js';
import { readJson, type Query } from '../api-client.js';
import { displayJsonMessages } from '../render/progress.js';
import { humanSize } from '../render/units.js';
import { PreformattedError, confirm, filtersJson, type ContextProvider } from './images.js';
import { collect } from './flag-values.js';

/** A build error that carries the exit code the daemon gave (a failed RUN's code). */
class BuildFailed extends PreformattedError {
  constructor(
    message: string,
    private readonly status: number,
  ) {
    super(message);
  }
  override get exitCode(): number {
    return this.status;
  }
}

function isArchive(head: Buffer): boolean {
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return true;
  return (
    (head[0] === 0x1f && head[1] === 0x8b) ||
    head.subarray(0, 3).toString('latin1') === 'BZh' ||
    head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) ||
    head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))
  );
}

/** The context directory as a tar, .dockerignore applied (the Dockerfile and .dockerignore always go). */
async function tarContext(dir: string, dockerfileRel: string, extra?: { name: string; data: Buffer }): Promise<Buffer> {
  let patterns: string[] = [];
  try {
    patterns = parseDockerignore(await readFile(path.join(dir, '.dockerignore'), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const matcher = createIgnoreMatcher(patterns);
  const always = new Set([dockerfileRel, '.dockerignore']);
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  const add = (h: Partial<tarStream.Header> & { name: string }, body?: Buffer): Promise<void> =>
    new Promise((resolve, reject) => pack.entry(h as tarStream.Header, body ?? Buffer.alloc(0), (e) => (e ? reject(e) : resolve())));
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(rel ? path.join(dir, rel) : dir)).sort();
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = path.join(dir, r);
      const st = await lstat(abs);
      const ignored = !always.has(r) && matcher.ignores(r, st.isDirectory());
      if (ignored && !(st.isDirectory() && matcher.mayMatchInside(r))) continue;
      const base = { mode: st.mode & 0o7777, mtime: st.mtime, uid: 0, gid: 0 };
      if (st.isDirectory()) {
        if (!ignored) await add({ ...base, name: `${r}/`, type: 'directory' });
        await walk(r);
      } else if (!ignored && st.isSymbolicLink()) {
        await add({ ...base, name: r, type: 'symlink', linkname: await readlink(abs) });
      } else if (!ignored && st.isFile()) {
        await add({ ...base, name: r, type: 'file', size: st.size }, await readFile(abs));
      }
    }
  };
  await walk('');
  if (extra) await add({ name: extra.name, type: 'file', mode: 0o600, mtime: new Date(), size: extra.data.length }, extra.data);
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function readRaw(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer | string>) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks);
}

function buildArgsOf(list: string[], env: NodeJS.ProcessEnv): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const a of list) {
    const i = a.indexOf('=');
    if (i > 0) out[a.slice(0, i)] = a.slice(i + 1);
    else out[a] = env[a] ?? null;
  }
  return out;
}

interface BuildFlags {
  tag: string[];
  file?: string;
  buildArg: string[];
  target?: string;
  label: string[];
  cache: boolean;
  pull?: boolean;
  quiet?: boolean;
  iidfile?: string;
  network?: string;
  rm: boolean;
  forceRm?: boolean;
  platform?: string;
  cacheFrom: string[];
  addHost: string[];
}

function defineBuild(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Build an image from a Dockerfile')
    .argument('<PATH|->')
    .option('-t, --tag <name>', 'Name and optionally a tag in the "name:tag" format', collect, [])
    .option('-f, --file <string>', "Name of the Dockerfile (Default is 'PATH/Dockerfile')")
    .option('--build-arg <list>', 'Set build-time variables', collect, [])
    .option('--target <string>', 'Set the target build stage to build.')
    .option('--label <list>', 'Set metadata for an image', collect, [])
    .option('--no-cache', 'Do not use cache when building the image')
    .option('--pull', 'Always attempt to pull a newer version of the image')
    .option('-q, --quiet', 'Suppress the build output and print image ID on success')
    .option('--iidfile <string>', 'Write the image ID to the file')
    .option('--network <string>', 'Set the networking mode for the RUN instructions during build')
    .option('--no-rm', 'Keep intermediate containers after a successful build')
    .option('--force-rm', 'Always remove intermediate containers')
    .option('--platform <string>', 'Set platform if server is multi-platform capable')
    .option('--cache-from <strings>', 'Images to consider as cache sources', collect, [])
    .option('--add-host <list>', 'Add a custom host-to-IP mapping (host:ip)', collect, [])
    .action(async (where: string, opts: BuildFlags) => {
      const ctx = context();
      let body: Buffer;
      let dockerfileName = opts.file ?? '';
      if (where === '-') {
        const input = await readRaw(ctx.io.stdin);
        if (isArchive(input)) body = input;
        else {
          dockerfileName = `.dockerfile.${randomBytes(10).toString('hex')}`;
          const pack = tarStream.pack();
          const chunks: Buffer[] = [];
          pack.on('data', (c: unknown) => chunks.push(c as Buffer));
          pack.entry({ name: dockerfileName, size: input.length, mode: 0o600, mtime: new Date() }, input);
          pack.finalize();
          await new Promise<void>((r) => pack.on('end', () => r()));
          body = Buffer.concat(chunks);
        }
      } else {
        const dir = path.resolve(where);
        const st = await lstat(dir).catch(() => undefined);
        if (!st?.isDirectory()) throw invalidArgument(`unable to prepare context: path "${where}" not found`);
        let extra: { name: string; data: Buffer } | undefined;
        if (opts.file && opts.file !== '-') {
          const abs = path.resolve(opts.file);
          const rel = path.relative(dir, abs);
          if (rel.startsWith('..') || path.isAbsolute(rel)) {
            // A Dockerfile outside the context travels inside the tar under a random name, as docker's CLI does.
            dockerfileName = `.dockerfile.${randomBytes(10).toString('hex')}`;
            extra = { name: dockerfileName, data: await readFile(abs) };
          } else dockerfileName = rel;
        } else if (opts.file === '-') {
          dockerfileName = `.dockerfile.${randomBytes(10).toString('hex')}`;
          extra = { name: dockerfileName, data: await readRaw(ctx.io.stdin) };
        }
        body = await tarContext(dir, dockerfileName || 'Dockerfile', extra);
      }
      if (!opts.quiet) ctx.out(`Sending build context to Docker daemon  ${humanSize(body.length)}\n\n`);
      const labels: Record<string, string> = {};
      for (const l of opts.label) {
        const i = l.indexOf('=');
        labels[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1);
      }
      const auths: Record<string, unknown> = {};
      const query: Query = {
        t: opts.tag.length ? opts.tag : undefined,
        dockerfile: dockerfileName || undefined,
        buildargs: JSON.stringify(buildArgsOf(opts.buildArg, ctx.io.env)),
        labels: JSON.stringify(labels),
        target: opts.target,
        nocache: opts.cache === false ? '1' : undefined,
        pull: opts.pull ? '1' : undefined,
        rm: opts.rm === false ? '0' : '1',
        forcerm: opts.forceRm ? '1' : undefined,
        q: opts.quiet ? '1' : undefined,
        networkmode: opts.network ?? 'default',
        platform: opts.platform,
        cachefrom: JSON.stringify(opts.cacheFrom),
        extrahosts: opts.addHost.length ? opts.addHost.join(',') : undefined,
      };
      const passthrough = new PassThrough();
      passthrough.end(body);
      const res = await ctx.client.request('POST', '/build', {
        query,
        body: passthrough,
        contentType: 'application/x-tar',
        headers: { 'X-Registry-Config': Buffer.from(JSON.stringify(auths)).toString('base64') },
      });
      let imageId = '';
      const sink = opts.quiet ? new PassThrough() : ctx.io.stdout;
      let quietOut = '';
      if (opts.quiet) (sink as PassThrough).on('data', (c: Buffer) => (quietOut += c.toString()));
      try {
        const aux = await displayJsonMessages(res.body, sink);
        for (const a of aux) if (a && typeof a === 'object' && 'ID' in a) imageId = String((a as { ID: unknown }).ID);
      } catch (err) {
        if (err instanceof BerthError) {
          const code = /returned a non-zero code: (\d+)$/.exec(err.message);
          throw new BuildFailed(err.message, code ? Number(code[1]) : 1);
        }
        throw err;
      }
      if (opts.quiet) ctx.out(quietOut);
      if (opts.iidfile && imageId) await writeFile(opts.iidfile, imageId);
    });
}

function defineBuilderPrune(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Remove build cache')
    .option('-a, --all', 'Remove all unused build cache, not just dangling ones')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=24h")', collect, [])
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--keep-storage <bytes>', 'Amount of disk space to keep for cache')
    .action(async (opts: { all?: boolean; filter: string[]; force?: boolean; keepStorage?: string }) => {
      const ctx = context();
      if (!opts.force && !(await confirm(ctx, 'WARNING! This will remove all dangling build cache. Are you sure you want to continue?'))) return;
      const res = await ctx.client.request('POST', '/build/prune', {
        query: { all: opts.all ? '1' : undefined, filters: filtersJson(opts.filter), 'keep-storage': opts.keepStorage },
      });
      const out = await readJson<{ CachesDeleted: string[] | null; SpaceReclaimed: number }>(res);
      if (out.CachesDeleted?.length) ctx.out(`Deleted build cache objects:\n${out.CachesDeleted.join('\n')}\n\n`);
      ctx.out(`Total reclaimed space: ${humanSize(out.SpaceReclaimed)}\n`);
    });
}

export function registerBuildCommands(program: Command, context: ContextProvider): void {
  defineBuild(program.command('build'), context);
  const builder = program.command('builder').description('Manage builds');
  defineBuild(builder.command('build'), context);
  defineBuilderPrune(builder.command('prune'), context);
  const image = program.commands.find((c) => c.name() === 'image');
  if (image) defineBuild(image.command('build'), context);
}
