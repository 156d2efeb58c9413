/** `/_ping`, `/version`, `/info` and `/system/df`. */
import type { Engine } from '../../engine/engine.js';
import { collectSystemInfo, collectVersion, type DaemonFacts } from '../../engine/system/system-info.js';
import type { RequestContext } from '../context.js';
import type { Router } from '../router.js';
import { API_VERSION } from '../version.js';

function ping(ctx: RequestContext): void {
  const res = ctx.res;
  res.setHeader('Api-Version', API_VERSION);
  res.setHeader('Builder-Version', '1');
  res.setHeader('Swarm', 'inactive');
  res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
  res.setHeader('Pragma', 'no-cache');
  if (ctx.req.method === 'HEAD') {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '0' });
    res.end();
    return;
  }
  ctx.sendText(200, 'OK');
}

export function registerSystemRoutes(router: Router, engine: Engine, daemon: DaemonFacts): void {
  router.get('/_ping', ping);
  router.head('/_ping', ping);
  router.get('/version', async (ctx) => ctx.sendJson(200, await collectVersion(engine, daemon)));
  router.get('/info', async (ctx) => ctx.sendJson(200, await collectSystemInfo(engine, daemon)));
  router.get('/system/df', async (ctx) => ctx.sendJson(200, await engine.diskUsage.report(ctx.query.getAll('type'))));
}
