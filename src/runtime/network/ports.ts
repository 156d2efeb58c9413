import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { unavailable } from '../../errors.js';

/** The kernel's ephemeral port range, or Docker's default 32768-60999 when unreadable. */
export async function ephemeralRange(): Promise<[number, number]> {
  try {
    const text = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
    return parsePortRange(text);
  } catch {
    return [32768, 60999];
  }
}

export function parsePortRange(text: string): [number, number] {
  const [lo, hi] = text.trim().split(/\s+/).map(Number);
  if (!lo || !hi || lo > hi || hi > 65535) return [32768, 60999];
  return [lo, hi];
}

/** Whether the host can bind the port right now (the probe socket is closed again at once). */
export function canBind(protocol: 'tcp' | 'udp', hostIp: string, port: number): Promise<boolean> {
  const host = hostIp === '' ? '0.0.0.0' : hostIp;
  return new Promise((resolve) => {
    if (protocol === 'tcp') {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
    } else {
      const sock = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
      sock.once('error', () => {
        sock.close();
        resolve(false);
      });
      sock.bind({ address: host, port, exclusive: true }, () => sock.close(() => resolve(true)));
    }
  });
}

/**
 * Walks the range from `start` (wrapping once), skipping ports in `taken` ("tcp/8080") and ports the host cannot bind.
 * Returns the port and where to start next time, so successive calls hand out distinct ports like Docker's allocator.
 */
export async function pickFreePort(
  protocol: 'tcp' | 'udp',
  hostIp: string,
  range: [number, number],
  start: number,
  taken: (key: string) => boolean,
  probe: (protocol: 'tcp' | 'udp', hostIp: string, port: number) => Promise<boolean> = canBind,
): Promise<{ port: number; next: number }> {
  const [lo, hi] = range;
  const size = hi - lo + 1;
  const first = start >= lo && start <= hi ? start : lo;
  for (let i = 0; i < size; i++) {
    const port = lo + ((first - lo + i) % size);
    if (taken(`${protocol}/${port}`)) continue;
    if (await probe(protocol, hostIp, port)) return { port, next: port === hi ? lo : port + 1 };
  }
  throw unavailable(`no free ${protocol} port in ${lo}-${hi}`);
}
