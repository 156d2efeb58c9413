/**
 * The HTTP server on berthd's unix socket: version prefix, common headers, routing, error mapping and
 * the access log. Handlers stay thin; everything they share happens here once.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { invalidArgument, notFound } from '../errors.js';
import type { Logger } from '../daemon/log.js';
import { HttpRequestContext } from './context.js';
import { errorReply, sendErrorReply } from './errors.js';
import { failHijacked, finishHijacked, UpgradeConnection } from './hijack.js';
import type { Router } from './router.js';
import { API_VERSION, negotiateVersion, splitVersionPrefix } from './version.js';

export interface ApiServerOptions {
  router: Router;
  logger: Logger;
  /** berth's version, for the Server header. */
  serverVersion: string;
}

interface ParsedTarget {
  path: string;
  query: URLSearchParams;
}

function parseTarget(url: string): ParsedTarget {
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    throw invalidArgument(`invalid request path: ${rawPath}`);
  }
  return { path, query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)) };
}

export class ApiServer {
  readonly http: http.Server;
  private readonly router: Router;
  private readonly logger: Logger;
  private readonly serverHeader: string;
  /** Connections that left Node's HTTP handling (Upgrade requests): close() must cut them itself. */
  private readonly upgradedSockets = new Set<Duplex>();

  constructor(options: ApiServerOptions) {
    this.router = options.router;
    this.logger = options.logger;
    this.serverHeader = `berth/${options.serverVersion} (linux)`;
    this.http = http.createServer({ keepAlive: true }, (req, res) => void this.handle(req, res));
    // Long pulls and builds stream for minutes; Node's default 5-minute request timeout would cut them.
    this.http.requestTimeout = 0;
    this.http.headersTimeout = 60_000;
    this.http.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.handleUpgrade(req, socket, head));
  }

  listen(socketPath: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.http.once('error', onError);
      this.http.listen(socketPath, () => {
        this.http.off('error', onError);
        resolve();
      });
    });
  }

  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then cuts what is left. */
  close(graceMs = 2000): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.http.closeAllConnections();
        for (const socket of this.upgradedSockets) socket.destroy();
      }, graceMs);
      timer.unref();
      this.http.close(() => {
        clearTimeout(timer);
        resolve();
      });
      this.http.closeIdleConnections();
    });
  }

  private setCommonHeaders(res: http.ServerResponse): void {
    res.setHeader('Api-Version', API_VERSION);
    res.setHeader('Docker-Experimental', 'false');
    res.setHeader('Ostype', 'linux');
    res.setHeader('Server', this.serverHeader);
  }

  /**
   * Node hands over requests carrying `Upgrade:` (attach, exec start) right after their head. They go
   * through the same routing and error replies as any request, on a response object of our own over
   * the socket; a handler that hijacks takes the socket over, for any other reply the connection ends.
   */
  private handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    this.upgradedSockets.add(socket);
    socket.once('close', () => this.upgradedSockets.delete(socket));
    const conn = new UpgradeConnection(req, socket, head);
    const res = new http.ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    res.once('finish', () => socket.end());
    void this.handle(req, res, conn);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, upgrade?: UpgradeConnection): Promise<void> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    this.setCommonHeaders(res);
    if (this.logger.enabled('debug')) {
      this.logger.debug(`Calling ${method} ${url}`);
      const started = process.hrtime.bigint();
      res.once('finish', () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        this.logger.debug(`${method} ${url} ${res.statusCode}`, { duration: `${ms.toFixed(1)}ms` });
      });
    }
    let ctx: HttpRequestContext | undefined;
    try {
      const target = parseTarget(url);
      const { version, path } = splitVersionPrefix(target.path);
      const apiVersion = negotiateVersion(version);
      const route = this.router.match(method, path);
      if (!route) throw notFound('page not found');
      ctx = new HttpRequestContext(req, res, route.params, target.query, apiVersion, upgrade);
      await route.handler(ctx);
      if (ctx.hijacked) finishHijacked(ctx.hijacked);
      else if (ctx.activeStream) ctx.activeStream.end();
      else if (!res.headersSent) {
        res.writeHead(200);
        res.end();
      }
    } catch (err) {
      this.fail(req, res, ctx, err);
    }
  }

  private fail(req: http.IncomingMessage, res: http.ServerResponse, ctx: HttpRequestContext | undefined, err: unknown): void {
    const reply = errorReply(err);
    // A client still uploading (load, import) must be able to finish writing, or it sees EPIPE instead of the error.
    if (!req.complete) req.resume();
    if (reply.unexpected) this.logger.error(`Handler for ${req.method} ${req.url} returned error: ${reply.message}`);
    else this.logger.debug(`Handler for ${req.method} ${req.url} returned error: ${reply.message}`, { status: reply.status });
    const hijacked = ctx?.hijacked;
    if (hijacked) {
      if (!hijacked.closed) failHijacked(hijacked, reply.message);
      return;
    }
    if (sendErrorReply(res, reply, req.method === 'HEAD')) return;
    const stream = ctx?.activeStream;
    if (stream && !stream.closed) {
      stream.error(reply.message);
      return;
    }
    // Halfway through some other body: cutting the connection is the only honest signal left.
    res.destroy();
  }
}
