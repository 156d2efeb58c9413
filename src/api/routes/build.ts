/** POST /build (the classic builder's stream), POST /build/prune. */
import { PassThrough } from 'node:stream';
import { RunStepFailed, type BuildOptions } from '../../engine/build/build-service.js';
import type { Engine } from '../../engine/engine.js';
import type { JsonMessage } from '../../engine/progress.js';
import { asBerthError, invalidArgument } from '../../errors.js';
import type { RequestContext } from '../context.js';
import type { Router } from '../router.js';

function jsonQuery<T>(ctx: RequestContext, name: string, fallback: T): T {
  const raw = ctx.query.get(name);
  if (!raw) return fallback;
  try {
    return JSON.parse(raw) as T;
  } catch {
    throw invalidArgument(`invalid ${name} value: ${raw}`);
  }
}

function stringMap(v: unknown, name: string): Record<string, string | null> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalidArgument(`${name} must be a JSON object`);
  const out: Record<string, string | null> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x !== null && typeof x !== 'string') throw invalidArgument(`${name}: value of ${k} must be a string`);
    out[k] = x;
  }
  return out;
}

function buildOptions(ctx: RequestContext): BuildOptions {
  const q = ctx.query;
  const labels = stringMap(jsonQuery<unknown>(ctx, 'labels', {}), 'labels');
  const cacheFrom = jsonQuery<unknown>(ctx, 'cachefrom', []);
  if (!Array.isArray(cacheFrom) || !cacheFrom.every((x) => typeof x === 'string')) throw invalidArgument('cachefrom must be a JSON array of strings');
  const extraHosts = (q.get('extrahosts') ?? '').split(/[,\s]+/).filter(Boolean);
  return {
    dockerfile: q.get('dockerfile') ?? '',
    tags: q.getAll('t').filter(Boolean),
    buildArgs: stringMap(jsonQuery<unknown>(ctx, 'buildargs', {}), 'buildargs'),
    labels: Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, v ?? ''])),
    target: q.get('target') || undefined,
    noCache: ctx.bool('nocache'),
    pull: ctx.bool('pull'),
    rm: q.has('rm') ? ctx.bool('rm') : true,
    forceRm: ctx.bool('forcerm'),
    quiet: ctx.bool('q'),
    networkMode: q.get('networkmode') || undefined,
    cacheFrom: cacheFrom as string[],
    platform: q.get('platform') || undefined,
    extraHosts,
    shmSize: ctx.int('shmsize', 0) || undefined,
    memory: ctx.int('memory', 0) || undefined,
    auth: ctx.registryConfig(),
  };
}

export function registerBuildRoutes(router: Router, engine: Engine): void {
  router.post('/build', async (ctx) => {
    const opts = buildOptions(ctx);
    const body = ctx.req.pipe(new PassThrough({ highWaterMark: 1 << 20 }));
    // The stream starts with the first message, so an error before any step (a bad Dockerfile) is a plain HTTP error.
    const out = (msg: JsonMessage): void => ctx.jsonStream().write(msg);
    try {
      await engine.builds.build(body, opts, out, ctx.signal);
    } catch (err) {
      const stream = ctx.activeStream;
      if (!stream) throw err;
      const message = asBerthError(err).message;
      const code = err instanceof RunStepFailed ? err.runExitCode : undefined;
      stream.write({ errorDetail: code === undefined ? { message } : { code, message }, error: message });
    }
    if (ctx.activeStream) ctx.activeStream.end();
    else ctx.jsonStream().end();
  });

  router.post('/build/prune', async (ctx) => {
    const keep = ctx.int('keep-storage', 0) || ctx.int('reserved-space', 0) || undefined;
    ctx.sendJson(200, await engine.builds.prune({ all: ctx.bool('all'), filters: ctx.filters(), keepStorage: keep }));
  });
}
