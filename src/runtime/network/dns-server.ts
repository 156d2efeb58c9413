import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import dnsPacket from 'dns-packet';
import type { NetworkLog } from './driver.js';

/**
 * berth's embedded DNS server: one UDP and one TCP listener per network on its gateway address. Names the engine
 * knows (containers, aliases) are answered here; everything else is relayed byte for byte (so the query id is kept)
 * to the host's upstream resolvers, which the daemon reaches from the host namespace.
 */

export interface EmbeddedDnsOptions {
  /** The host's resolvers, 'a.b.c.d' or 'a.b.c.d:port', asked in order. */
  upstreams: () => string[];
  /** IPv4 addresses of `name` (lower case, no trailing dot) on the network; [] when the name is not ours. */
  lookup: (networkId: string, name: string) => string[];
  log: NetworkLog;
  /** How long one upstream gets before the next is tried (SERVFAIL after the last). */
  upstreamTimeoutMs?: number;
}

const TTL = 600;
const RCODE_SERVFAIL = 2;
const MAX_TCP_MESSAGE = 65535;

interface Listener {
  udp: UdpSocket;
  tcp: Server;
  conns: Set<TcpSocket>;
}

/** 'a.b.c.d' / 'a.b.c.d:port' / '[v6]:port' -> host and port (53 unless given). */
export function parseUpstream(s: string): { host: string; port: number } {
  const v6 = /^\[(.+)\](?::(\d+))?$/.exec(s);
  if (v6) return { host: v6[1] ?? '', port: v6[2] ? Number(v6[2]) : 53 };
  const parts = s.split(':');
  if (parts.length === 2) return { host: parts[0] ?? '', port: Number(parts[1]) };
  return { host: s, port: 53 };
}

export const normalizeName = (name: string): string => name.toLowerCase().replace(/\.$/, '');

/**
 * The local answer to a query, or undefined when it must go upstream: A records for known names, an empty NOERROR for
 * their AAAA (so resolvers do not wait on IPv6), nothing for anything else.
 */
export function localAnswer(query: dnsPacket.DecodedPacket, lookup: (name: string) => string[]): Buffer | undefined {
  const q = query.questions?.[0];
  if (!q || (q.type !== 'A' && q.type !== 'AAAA') || (q.class !== undefined && q.class !== 'IN')) return undefined;
  const ips = lookup(normalizeName(q.name));
  if (ips.length === 0) return undefined;
  const answers: dnsPacket.Answer[] =
    q.type === 'A' ? ips.map((ip) => ({ type: 'A', class: 'IN', name: q.name, ttl: TTL, data: ip })) : [];
  return dnsPacket.encode({
    type: 'response',
    id: query.id ?? 0,
    flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_AVAILABLE | (query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0),
    questions: [q],
    answers,
  });
}

/** SERVFAIL for `raw`, keeping its id and question; undefined when the query cannot even be decoded. */
export function servfail(raw: Buffer): Buffer | undefined {
  try {
    const query = dnsPacket.decode(raw);
    return dnsPacket.encode({
      type: 'response',
      id: query.id ?? 0,
      flags: RCODE_SERVFAIL | dnsPacket.RECURSION_AVAILABLE | (query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0),
      questions: query.questions ?? [],
    });
  } catch {
    return undefined;
  }
}

function askUpstream(raw: Buffer, upstream: string, timeoutMs: number): Promise<Buffer | undefined> {
  const { host, port } = parseUpstream(upstream);
  return new Promise((resolve) => {
    const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const done = (reply: Buffer | undefined): void => {
      clearTimeout(timer);
      sock.close();
      resolve(reply);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    sock.on('error', () => done(undefined));
    sock.on('message', (msg, rinfo) => {
      // Only the upstream's reply to this very query counts.
      if (rinfo.port === port && msg.length >= 2 && msg.readUInt16BE(0) === raw.readUInt16BE(0)) done(msg);
    });
    sock.send(raw, port, host);
  });
}

export class EmbeddedDns {
  private readonly listeners = new Map<string, Listener>();
  private readonly timeoutMs: number;

  constructor(private readonly opts: EmbeddedDnsOptions) {
    this.timeoutMs = opts.upstreamTimeoutMs ?? 2000;
  }

  /** Starts answering on ip:port (UDP and TCP); replaces an earlier listener of the same network. */
  async listen(networkId: string, ip: string, port = 53): Promise<void> {
    await this.close(networkId);
    const udp = createSocket({ type: 'udp4', reuseAddr: false });
    const conns = new Set<TcpSocket>();
    const tcp = createServer((conn) => this.serveTcp(networkId, conn, conns));
    const listener: Listener = { udp, tcp, conns };
    udp.on('message', (msg, rinfo) => {
      void this.resolve(networkId, msg).then((reply) => {
        if (reply) udp.send(reply, rinfo.port, rinfo.address);
      });
    });
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind({ address: ip, port, exclusive: true }, () => {
          udp.off('error', reject);
          resolve();
        });
      });
      udp.on('error', (e) => this.opts.log('warn', `dns ${ip}:${port}/udp: ${e.message}`));
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ host: ip, port, exclusive: true }, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      tcp.on('error', (e) => this.opts.log('warn', `dns ${ip}:${port}/tcp: ${e.message}`));
    } catch (e) {
      await closeListener(listener);
      throw e;
    }
    this.listeners.set(networkId, listener);
  }

  async close(networkId: string): Promise<void> {
    const l = this.listeners.get(networkId);
    if (!l) return;
    this.listeners.delete(networkId);
    await closeListener(l);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.listeners.keys()].map((id) => this.close(id)));
  }

  /** The reply to one raw query: local, relayed, or SERVFAIL; undefined for garbage (dropped, like a resolver does). */
  private async resolve(networkId: string, raw: Buffer): Promise<Buffer | undefined> {
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(raw);
    } catch {
      return undefined;
    }
    if (query.type === 'response') return undefined;
    try {
      const local = localAnswer(query, (name) => this.opts.lookup(networkId, name));
      if (local) return local;
    } catch (e) {
      this.opts.log('warn', `dns: lookup failed: ${String(e)}`);
      return servfail(raw);
    }
    for (const upstream of this.opts.upstreams()) {
      const reply = await askUpstream(raw, upstream, this.timeoutMs);
      if (reply) return reply;
      this.opts.log('debug', `dns: upstream ${upstream} did not answer`);
    }
    return servfail(raw);
  }

  /** DNS over TCP: each message is prefixed with its 16-bit length; queries on one connection are answered in turn. */
  private serveTcp(networkId: string, conn: TcpSocket, conns: Set<TcpSocket>): void {
    conns.add(conn);
    let buf = Buffer.alloc(0);
    let chain = Promise.resolve();
    conn.on('close', () => conns.delete(conn));
    conn.on('error', () => conn.destroy());
    conn.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        chain = chain.then(async () => {
          const reply = await this.resolve(networkId, Buffer.from(msg));
          if (!reply || reply.length > MAX_TCP_MESSAGE || conn.destroyed) return;
          const head = Buffer.alloc(2);
          head.writeUInt16BE(reply.length);
          conn.write(Buffer.concat([head, reply]));
        });
      }
    });
  }
}

async function closeListener(l: Listener): Promise<void> {
  for (const c of l.conns) c.destroy();
  await Promise.all([
    new Promise<void>((resolve) => {
      try {
        l.udp.close(() => resolve());
      } catch {
        resolve(); // never bound
      }
    }),
    new Promise<void>((resolve) => (l.tcp.listening ? l.tcp.close(() => resolve()) : resolve())),
  ]);
}
