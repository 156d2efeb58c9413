/** GET /events: the engine's event bus as Docker's newline-delimited stream. */
import type { Engine } from '../../engine/engine.js';
import type { EngineEvent } from '../../engine/events/event-bus.js';
import { EventWatch } from '../../engine/events/event-watch.js';
import type { Router } from '../router.js';

/** The legacy top-level fields Docker still sends for container and image events. */
function wireFormat(ev: EngineEvent): Record<string, unknown> {
  const legacy = ev.Type === 'container' || ev.Type === 'image' ? { status: ev.Action, id: ev.Actor.ID, from: ev.Actor.Attributes.image } : {};
  return { ...legacy, ...ev };
}

export function registerEventRoutes(router: Router, engine: Engine): void {
  router.get('/events', async (ctx) => {
    const watch = new EventWatch(ctx.filters(), ctx.query.get('since') ?? undefined, ctx.query.get('until') ?? undefined);
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    ctx.res.flushHeaders();
    await watch.run(engine.events, (ev) => ctx.res.write(JSON.stringify(wireFormat(ev)) + '\n'), ctx.signal);
    if (!ctx.res.writableEnded) ctx.res.end();
  });
}
