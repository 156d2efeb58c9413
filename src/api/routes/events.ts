/** GET /events: the engine's event bus as Docker's newline-delimited stream, with since/until replay and filters. */
import type { Engine } from '../../engine/engine.js';
import type { EngineEvent } from '../../engine/events/event-bus.js';
import { invalidArgument } from '../../errors.js';
import { parseTimestamp } from '../../engine/images/filters.js';
import type { Router } from '../router.js';

const FILTER_KEYS = new Set(['type', 'event', 'image', 'container', 'label', 'network', 'volume', 'daemon', 'scope']);

function matches(ev: EngineEvent, filters: Map<string, string[]>): boolean {
  const want = (key: string, value: string | undefined): boolean => {
    const vals = filters.get(key);
    return !vals?.length || (value !== undefined && vals.includes(value));
  };
  if (!want('type', ev.Type)) return false;
  if (!want('event', ev.Action) && !want('event', ev.Action.split(':')[0])) return false;
  const name = ev.Actor.Attributes.name;
  if (filters.get('image')?.length && ev.Type === 'image') {
    if (!filters.get('image')!.some((v) => v === ev.Actor.ID || v === name)) return false;
  }
  if (filters.get('container')?.length) {
    if (ev.Type !== 'container' || !filters.get('container')!.some((v) => ev.Actor.ID.startsWith(v) || v === name)) return false;
  }
  for (const l of filters.get('label') ?? []) {
    const [k, v] = l.split('=', 2);
    if (v === undefined ? !(k in ev.Actor.Attributes) : ev.Actor.Attributes[k] !== v) return false;
  }
  return true;
}

/** The legacy top-level fields Docker still sends for container and image events. */
function wireFormat(ev: EngineEvent): Record<string, unknown> {
  const legacy = ev.Type === 'container' || ev.Type === 'image' ? { status: ev.Action, id: ev.Actor.ID, from: ev.Actor.Attributes.image } : {};
  return { ...legacy, ...ev };
}

export function registerEventRoutes(router: Router, engine: Engine): void {
  router.get('/events', (ctx) => {
    const filters = ctx.filters();
    for (const k of filters.keys()) if (!FILTER_KEYS.has(k)) throw invalidArgument(`invalid filter '${k}'`);
    const now = Date.now();
    const since = ctx.query.get('since');
    const until = ctx.query.get('until');
    const sinceMs = since ? parseTimestamp(since, now) : undefined;
    const untilMs = until ? parseTimestamp(until, now) : undefined;
    // The docker CLI sends whole seconds: an event later in that same second still belongs before `until`.
    const untilCutoff = untilMs !== undefined && until && /^\d+$/.test(until) ? untilMs + 999 : untilMs;
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    ctx.res.flushHeaders();
    const send = (ev: EngineEvent): void => {
      if (matches(ev, filters)) ctx.res.write(JSON.stringify(wireFormat(ev)) + '\n');
    };
    if (sinceMs !== undefined) {
      for (const ev of engine.events.since(sinceMs * 1e6)) if (untilCutoff === undefined || ev.timeNano <= untilCutoff * 1e6) send(ev);
    }
    if (untilMs !== undefined && untilMs <= now) {
      ctx.res.end();
      return;
    }
    return new Promise<void>((resolve) => {
      const stop = (): void => {
        unsubscribe();
        clearTimeout(timer);
        if (!ctx.res.writableEnded) ctx.res.end();
        resolve();
      };
      const unsubscribe = engine.events.subscribe(send);
      const timer = untilMs !== undefined ? setTimeout(stop, untilMs - now) : undefined;
      ctx.signal.addEventListener('abort', stop, { once: true });
    });
  });
}
