/** Volume endpoints: decode, call the VolumeService, encode. */
import type { Engine } from '../../engine/engine.js';
import type { VolumeCreateRequest } from '../../engine/volumes/volume-service.js';
import type { Router } from '../router.js';

export function registerVolumeRoutes(router: Router, engine: Engine): void {
  const volumes = engine.volumes;

  router.get('/volumes', (ctx) => ctx.sendJson(200, volumes.list(ctx.filters())));

  router.post('/volumes/create', async (ctx) => ctx.sendJson(201, await volumes.create(await ctx.json<VolumeCreateRequest>())));

  router.post('/volumes/prune', async (ctx) => ctx.sendJson(200, await volumes.prune(ctx.filters(), ctx.apiVersion)));

  router.get('/volumes/{name}', (ctx) => ctx.sendJson(200, volumes.inspect(ctx.params.name)));

  router.delete('/volumes/{name}', async (ctx) => {
    await volumes.remove(ctx.params.name, { force: ctx.bool('force') });
    ctx.sendStatus(204);
  });
}
