/** Image endpoints: decode, call the ImageService, encode. */
import { request } from 'undici';
import { PassThrough, type Readable } from 'node:stream';
import { BerthError, invalidArgument } from '../../errors.js';
import type { Engine } from '../../engine/engine.js';
import type { JsonMessage, ProgressSink } from '../../engine/progress.js';
import type { RequestContext } from '../context.js';
import { compareVersions } from '../version.js';
import type { Router } from '../router.js';

/**
 * The stream starts with the first message, so an error before any progress (a missing image, bad credentials)
 * still gets a proper HTTP status, as Docker's does.
 */
function lazyProgress(ctx: RequestContext): ProgressSink {
  return (msg: JsonMessage) => ctx.jsonStream().write(msg);
}

/**
 * A registry's refusal must not reach the client as a 401: to the docker CLI a 401 from the daemon means "the user
 * has to log in first", so it prompts for a username on stdin and a script hangs. dockerd answers these with 403/404/500.
 */
function asRegistryRefusal(err: unknown): never {
  if (err instanceof BerthError && err.code === 'unauthorized') throw new BerthError('forbidden', err.message, { cause: err });
  throw err;
}

function endStream(ctx: RequestContext): void {
  if (ctx.activeStream) ctx.activeStream.end();
  else ctx.jsonStream().end();
}

/**
 * The request body behind a stream of its own: when the engine gives up on a bad upload and destroys its input,
 * the socket survives, so the client still reads the error.
 */
function requestBody(ctx: RequestContext): Readable {
  return ctx.req.pipe(new PassThrough({ highWaterMark: 1 << 20 }));
}

async function importSource(ctx: RequestContext, src: string): Promise<Readable> {
  if (src === '-') return requestBody(ctx);
  let url: URL;
  try {
    url = new URL(src.includes('://') ? src : `http://${src}`);
  } catch {
    throw invalidArgument(`invalid import source: ${src}`);
  }
  const res = await request(url, { signal: ctx.signal }).catch((e: Error) => {
    throw invalidArgument(`could not fetch ${src}: ${e.message}`);
  });
  if (res.statusCode >= 400) {
    res.body.destroy();
    throw invalidArgument(`could not fetch ${src}: HTTP ${res.statusCode}`);
  }
  return res.body;
}

export function registerImageRoutes(router: Router, engine: Engine): void {
  const images = engine.images;

  router.get('/images/json', (ctx) => {
    const list = images.list({ all: ctx.bool('all'), filters: ctx.filters() });
    const old = compareVersions(ctx.apiVersion, '1.44') < 0;
    ctx.sendJson(200, old ? list.map((i) => ({ ...i, VirtualSize: i.Size })) : list);
  });

  router.post('/images/create', async (ctx) => {
    const fromImage = ctx.query.get('fromImage');
    const fromSrc = ctx.query.get('fromSrc');
    const onProgress = lazyProgress(ctx);
    if (fromSrc) {
      const source = await importSource(ctx, fromSrc);
      await images.import(source, {
        repo: ctx.query.get('repo') ?? undefined,
        tag: ctx.query.get('tag') ?? undefined,
        message: ctx.query.get('message') ?? undefined,
        changes: ctx.query.getAll('changes'),
        platform: ctx.query.get('platform') ?? undefined,
        sourceName: fromSrc === '-' ? '-' : fromSrc,
        onProgress,
      });
    } else if (fromImage) {
      await images
        .pull(fromImage, ctx.query.get('tag') ?? undefined, {
          platform: ctx.query.get('platform') || undefined,
          auth: ctx.registryAuth(),
          onProgress,
          signal: ctx.signal,
        })
        .catch(asRegistryRefusal);
    } else {
      throw invalidArgument('fromImage or fromSrc is required');
    }
    endStream(ctx);
  });

  router.get('/images/get', (ctx) => {
    const names = ctx.query.getAll('names').flatMap((n) => n.split(',')).filter(Boolean);
    sendTar(ctx, images.save(names));
  });

  router.post('/images/load', async (ctx) => {
    const quiet = ctx.bool('quiet');
    await images.load(requestBody(ctx), { quiet, onProgress: lazyProgress(ctx) });
    endStream(ctx);
  });

  router.post('/images/prune', async (ctx) => {
    const filters = ctx.filters();
    ctx.sendJson(200, await images.prune({ all: false, filters }));
  });

  router.post('/auth', async (ctx) => {
    const auth = await ctx.json<{ username?: string; password?: string; serveraddress?: string; identitytoken?: string }>();
    const res = await images.login(auth);
    ctx.sendJson(200, { Status: res.status, IdentityToken: res.identityToken ?? '' });
  });

  router.get('/images/{name:.*}/json', (ctx) => ctx.sendJson(200, images.inspect(ctx.params.name)));
  router.get('/images/{name:.*}/history', (ctx) => ctx.sendJson(200, images.history(ctx.params.name)));
  router.get('/images/{name:.*}/get', (ctx) => sendTar(ctx, images.save([ctx.params.name])));

  router.post('/images/{name:.*}/push', async (ctx) => {
    await images.push(ctx.params.name, ctx.query.get('tag') ?? undefined, {
      auth: ctx.registryAuth(),
      onProgress: lazyProgress(ctx),
      signal: ctx.signal,
    });
    endStream(ctx);
  });

  router.post('/images/{name:.*}/tag', (ctx) => {
    const repo = ctx.query.get('repo');
    if (!repo) throw invalidArgument('repository name (repo) is required');
    images.tag(ctx.params.name, repo, ctx.query.get('tag') ?? undefined);
    ctx.sendStatus(201);
  });

  router.delete('/images/{name:.*}', async (ctx) => {
    ctx.sendJson(200, await images.remove(ctx.params.name, { force: ctx.bool('force'), noprune: ctx.bool('noprune') }));
  });
}

function sendTar(ctx: RequestContext, tar: Readable): void {
  ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
  tar.on('error', (e) => ctx.res.destroy(e));
  tar.pipe(ctx.res);
}
