import { EventEmitter } from 'node:events';

/** Docker's events message (GET /events). */
export interface EngineEvent {
  Type: 'image' | 'container' | 'network' | 'volume' | 'daemon' | 'builder';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
}

/**
 * Every service publishes what happened here; `docker events` subscribes. A bounded history lets `since` replay
 * recent events without a store.
 */
export class EventBus {
  private readonly emitter = new EventEmitter();
  private readonly history: EngineEvent[] = [];
  constructor(private readonly historyLimit = 1024) {
    this.emitter.setMaxListeners(0);
  }

  publish(type: EngineEvent['Type'], action: string, id: string, attributes: Record<string, string> = {}): void {
    const nowNs = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
    const ev: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(nowNs / 1_000_000_000n),
      timeNano: Number(nowNs),
    };
    this.history.push(ev);
    if (this.history.length > this.historyLimit) this.history.shift();
    this.emitter.emit('event', ev);
  }

  /** Events recorded at or after `sinceNano`. */
  since(sinceNano: number): EngineEvent[] {
    return this.history.filter((e) => e.timeNano >= sinceNano);
  }

  subscribe(listener: (ev: EngineEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
