import { invalidArgument } from '../../errors.js';
import { parseTimestamp } from '../images/filters.js';
import type { EngineEvent, EventBus } from './event-bus.js';

/**
 * One `docker events` request: its filters and its since/until window, checked before anything is sent, then the
 * recorded events in the window followed by live ones until `until` passes or the watcher goes away.
 */

const FILTER_KEYS = new Set(['type', 'event', 'image', 'container', 'label', 'network', 'volume', 'daemon', 'scope']);

export function eventMatches(ev: EngineEvent, filters: Map<string, string[]>): boolean {
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

export class EventWatch {
  private readonly sinceMs: number | undefined;
  private readonly untilMs: number | undefined;
  /** The last instant (ms) an event may have to be sent. */
  private readonly untilCutoffMs: number | undefined;

  /** Throws invalid_argument for an unknown filter or a bad timestamp. */
  constructor(
    private readonly filters: Map<string, string[]>,
    since: string | undefined,
    until: string | undefined,
    private readonly now: number = Date.now(),
  ) {
    for (const k of filters.keys()) if (!FILTER_KEYS.has(k)) throw invalidArgument(`invalid filter '${k}'`);
    this.sinceMs = since ? parseTimestamp(since, now) : undefined;
    this.untilMs = until ? parseTimestamp(until, now) : undefined;
    // The docker CLI sends whole seconds: an event later in that same second still belongs before `until`.
    this.untilCutoffMs = this.untilMs !== undefined && until && /^\d+$/.test(until) ? this.untilMs + 999 : this.untilMs;
  }

  /** Sends what matches; resolves once the window has closed or `signal` aborts. */
  run(bus: EventBus, send: (ev: EngineEvent) => void, signal: AbortSignal): Promise<void> {
    const deliver = (ev: EngineEvent): void => {
      if (eventMatches(ev, this.filters)) send(ev);
    };
    if (this.sinceMs !== undefined) {
      for (const ev of bus.since(this.sinceMs * 1e6)) if (this.untilCutoffMs === undefined || ev.timeNano <= this.untilCutoffMs * 1e6) deliver(ev);
    }
    if (this.untilMs !== undefined && this.untilMs <= this.now) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const stop = (): void => {
        unsubscribe();
        clearTimeout(timer);
        signal.removeEventListener('abort', stop);
        resolve();
      };
      const unsubscribe = bus.subscribe(deliver);
      const timer = this.untilMs !== undefined ? setTimeout(stop, this.untilMs - this.now) : undefined;
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
    });
  }
}
