/**
 * A stand-in daemon that answers the requests of `docker run --rm` and `docker exec` at once, doing nothing: timing
 * the docker CLI against it gives the CLI's own cost (process start, config, connections), the floor under any
 * engine's figure for the same command on this machine.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface InstantDaemon {
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

const CONTAINER = 'c0ffee0000000000000000000000000000000000000000000000000000000000';
const EXEC = 'e0ec000000000000000000000000000000000000000000000000000000000000';

export async function startInstantDaemon(): Promise<InstantDaemon> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-stub-'));
  const socketPath = join(dir, 'stub.sock');
  // One docker command at a time: the attach stream and the wait of the current `run`.
  let attached: Socket | undefined;
  let waiting: ServerResponse | undefined;
  // The CLI sends its wait and its start without waiting for each other: either may come first.
  let exited = false;
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'Content-Type': 'application/json', 'Api-Version': '1.47' });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const url = req.url ?? '';
      if (url.endsWith('/_ping')) {
        res.writeHead(200, { 'Api-Version': '1.47', 'Content-Type': 'text/plain' });
        res.end(req.method === 'HEAD' ? undefined : 'OK');
      } else if (url.includes('/containers/create')) json(res, 201, { Id: CONTAINER, Warnings: [] });
      else if (url.includes('/wait')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        if (exited) {
          exited = false;
          res.end(JSON.stringify({ StatusCode: 0 }));
        } else {
          res.flushHeaders();
          waiting = res;
        }
      } else if (url.endsWith('/start') && url.includes('/containers/')) {
        res.writeHead(204);
        res.end();
        // The container "ran": its output ends and it is gone.
        setImmediate(() => {
          attached?.end();
          attached = undefined;
          if (waiting) waiting.end(JSON.stringify({ StatusCode: 0 }));
          else exited = true;
          waiting = undefined;
        });
      } else if (url.endsWith('/exec')) json(res, 201, { Id: EXEC });
      else if (url.includes('/exec/') && url.endsWith('/json')) json(res, 200, { ID: EXEC, Running: false, ExitCode: 0, Pid: 0 });
      else if (url.includes('/containers/') && url.endsWith('/json')) {
        json(res, 200, { Id: CONTAINER, State: { Running: true, Status: 'running' }, Config: { Tty: false } });
      } else json(res, 404, { message: `stub: ${req.method} ${url}` });
    });
  });
  const upgraded = new Set<Socket>();
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    // An exec's stream ends at once; a container's when it is started.
    if ((req.url ?? '').includes('/exec/')) socket.end();
    else attached = socket;
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    env: { ...process.env, DOCKER_HOST: `unix://${socketPath}` },
    stop: async () => {
      // Nothing may hold the stop: keep-alive connections, hijacked streams, a wait never answered.
      server.close();
      server.closeAllConnections();
      for (const s of upgraded) s.destroy();
      waiting?.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
