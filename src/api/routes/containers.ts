/** Container endpoints: decode, call the ContainerService, encode. */
import type { Engine } from '../../engine/engine.js';
import type { ContainerConfig, CreateRequest, HostConfig } from '../../engine/containers/types.js';
import { invalidArgument } from '../../errors.js';
import type { Router } from '../router.js';

const WAIT_CONDITIONS = new Set(['not-running', 'next-exit', 'removed']);

export function registerContainerRoutes(router: Router, engine: Engine): void {
  const containers = engine.containers;

  router.post('/containers/create', async (ctx) => {
    const body = await ctx.json<CreateRequest>();
    const name = ctx.query.get('name') || undefined;
    ctx.sendJson(201, await containers.create(body, name));
  });

  router.get('/containers/json', (ctx) => {
    const limit = ctx.int('limit') ?? (ctx.bool('latest') ? 1 : undefined);
    ctx.sendJson(200, containers.list({ all: ctx.bool('all'), limit, filters: ctx.filters() }));
  });

  router.get('/containers/{id}/json', (ctx) => ctx.sendJson(200, containers.inspect(ctx.params.id)));

  router.post('/containers/{id}/start', async (ctx) => {
    await containers.start(ctx.params.id);
    ctx.sendStatus(204);
  });

  router.post('/containers/{id}/stop', async (ctx) => {
    await containers.stop(ctx.params.id, { timeout: ctx.int('t'), signal: ctx.query.get('signal') ?? undefined });
    ctx.sendStatus(204);
  });

  router.post('/containers/{id}/restart', async (ctx) => {
    await containers.restart(ctx.params.id, { timeout: ctx.int('t'), signal: ctx.query.get('signal') ?? undefined });
    ctx.sendStatus(204);
  });

  router.post('/containers/{id}/kill', async (ctx) => {
    await containers.kill(ctx.params.id, ctx.query.get('signal') || 'SIGKILL');
    ctx.sendStatus(204);
  });

  router.post('/containers/{id}/rename', async (ctx) => {
    const name = ctx.query.get('name');
    if (!name) throw invalidArgument('name is required');
    await containers.rename(ctx.params.id, name);
    ctx.sendStatus(204);
  });

  router.post('/containers/{id}/pause', async (ctx) => {
    await containers.pause(ctx.params.id);
    ctx.sendStatus(204);
  });

  router.post('/containers/{id}/unpause', async (ctx) => {
    await containers.unpause(ctx.params.id);
    ctx.sendStatus(204);
  });

  router.post('/containers/prune', async (ctx) => ctx.sendJson(200, await containers.prune(ctx.filters())));

  router.get('/containers/{id}/top', async (ctx) => ctx.sendJson(200, await containers.top(ctx.params.id, ctx.query.get('ps_args') || '-ef')));

  // Docker's stats: each reading carries the previous one as precpu_stats, so clients can compute CPU %.
  router.get('/containers/{id}/stats', async (ctx) => {
    const stream = ctx.query.get('stream') === null ? true : ctx.bool('stream');
    const oneShot = ctx.bool('one-shot');
    const first = await containers.stats(ctx.params.id);
    const emptyCpu = { cpu_usage: { total_usage: 0 }, system_cpu_usage: 0, online_cpus: 0, throttling_data: {} };
    const view = (cur: typeof first, prev: typeof first | undefined) => ({
      ...(cur.sample ?? { read: new Date().toISOString(), pids_stats: {}, blkio_stats: {}, num_procs: 0, storage_stats: {}, cpu_stats: emptyCpu, memory_stats: {} }),
      preread: prev?.sample?.read ?? '0001-01-01T00:00:00Z',
      precpu_stats: prev?.sample?.cpu_stats ?? emptyCpu,
      name: cur.name,
      id: cur.id,
      networks: {},
    });
    if (!stream) {
      if (oneShot || !first.running) {
        ctx.sendJson(200, view(first, undefined));
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
      ctx.sendJson(200, view(await containers.stats(ctx.params.id), first));
      return;
    }
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    let prev: typeof first | undefined;
    let cur = first;
    while (!ctx.signal.aborted && !ctx.res.destroyed) {
      ctx.res.write(JSON.stringify(view(cur, prev)) + '\n');
      if (!cur.running) break;
      await new Promise((r) => setTimeout(r, 1000));
      prev = cur;
      cur = await containers.stats(ctx.params.id).catch(() => ({ ...cur, running: false, sample: undefined }));
    }
    ctx.res.end();
  });

  router.get('/containers/{id}/changes', async (ctx) => ctx.sendJson(200, await containers.changes(ctx.params.id)));

  router.get('/containers/{id}/export', async (ctx) => {
    const tar = await containers.export(ctx.params.id);
    ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    tar.on('error', (e) => ctx.res.destroy(e));
    ctx.res.once('close', () => tar.destroy());
    tar.pipe(ctx.res);
  });

  router.post('/containers/{id}/update', async (ctx) => ctx.sendJson(200, await containers.update(ctx.params.id, await ctx.json<Partial<HostConfig>>())));

  router.post('/commit', async (ctx) => {
    const container = ctx.query.get('container');
    if (!container) throw invalidArgument('container is required');
    const raw = (await ctx.body()).toString('utf8').trim();
    const config = raw ? await ctx.json<Partial<ContainerConfig> | null>() : null;
    const id = await containers.commit(container, {
      repo: ctx.query.get('repo') || undefined,
      tag: ctx.query.get('tag') || undefined,
      comment: ctx.query.get('comment') || undefined,
      author: ctx.query.get('author') || undefined,
      changes: ctx.query.getAll('changes').flatMap((c) => c.split('\n')).filter(Boolean),
      pause: ctx.query.get('pause') === null ? true : ctx.bool('pause'),
      config: config ?? undefined,
    });
    ctx.sendJson(201, { Id: id });
  });

  router.delete('/containers/{id}', async (ctx) => {
    await containers.remove(ctx.params.id, { force: ctx.bool('force'), volumes: ctx.bool('v') });
    ctx.sendStatus(204);
  });

  // The docker CLI sends wait before start and needs the headers at once, so the response starts immediately.
  router.post('/containers/{id}/wait', async (ctx) => {
    const condition = ctx.query.get('condition') || 'not-running';
    if (!WAIT_CONDITIONS.has(condition)) throw invalidArgument(`invalid condition: "${condition}"`);
    const waiting = containers.wait(ctx.params.id, condition as 'not-running' | 'next-exit' | 'removed', ctx.signal);
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    ctx.res.flushHeaders();
    try {
      const code = await waiting;
      ctx.res.end(JSON.stringify({ StatusCode: code, Error: null }) + '\n');
    } catch (err) {
      ctx.res.end(JSON.stringify({ StatusCode: -1, Error: { Message: (err as Error).message } }) + '\n');
    }
  });
}
