/** Network endpoints: decode, call the NetworkService, encode. */
import type { Engine } from '../../engine/engine.js';
import type { EndpointSettings, NetworkCreateRequest } from '../../engine/networks/types.js';
import { invalidArgument } from '../../errors.js';
import type { Router } from '../router.js';

interface ConnectBody {
  Container?: string;
  EndpointConfig?: Partial<EndpointSettings> | null;
}

interface DisconnectBody {
  Container?: string;
  Force?: boolean;
}

export function registerNetworkRoutes(router: Router, engine: Engine): void {
  const networks = engine.networks;

  router.get('/networks', (ctx) => ctx.sendJson(200, networks.list(ctx.filters())));

  router.post('/networks/create', async (ctx) => {
    const body = await ctx.json<NetworkCreateRequest>();
    if (!body || typeof body !== 'object') throw invalidArgument('invalid network config');
    ctx.sendJson(201, await networks.create(body));
  });

  router.post('/networks/prune', async (ctx) => ctx.sendJson(200, await networks.prune(ctx.filters())));

  router.get('/networks/{id}', (ctx) => ctx.sendJson(200, networks.inspect(ctx.params.id)));

  router.delete('/networks/{id}', async (ctx) => {
    await networks.remove(ctx.params.id);
    ctx.sendStatus(204);
  });

  router.post('/networks/{id}/connect', async (ctx) => {
    const body = await ctx.json<ConnectBody>();
    if (!body?.Container) throw invalidArgument('Container is required');
    await networks.connect(ctx.params.id, body.Container, body.EndpointConfig ?? {});
    ctx.sendStatus(200);
  });

  router.post('/networks/{id}/disconnect', async (ctx) => {
    const body = await ctx.json<DisconnectBody>();
    if (!body?.Container) throw invalidArgument('Container is required');
    await networks.disconnect(ctx.params.id, body.Container, body.Force === true);
    ctx.sendStatus(200);
  });
}
