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

  router.get('/containers/{id}/stats', async (ctx) => {
    const stream = ctx.query.get('stream') === null ? true : ctx.bool('stream');
    const docs = await containers.statsDocuments(ctx.params.id, { stream, oneShot: ctx.bool('one-shot') }, ctx.signal);
    if (!stream) {
      for await (const doc of docs) ctx.sendJson(200, doc);
      return;
    }
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    for await (const doc of docs) {
      if (ctx.res.destroyed) break;
      ctx.res.write(JSON.stringify(doc) + '\n');
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
