/**
 * The HTTP server on berthd's unix socket: version prefix, common headers, routing, error mapping and
 * the access log. Handlers stay thin; everything they share happens here once.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { invalidArgument, notFound } from '../errors.js';
import type { Logger } from '../daemon/log.js';
import { HttpRequestContext } from './context.js';
import { errorReply, sendErrorReply } from './errors.js';
import type { Router } from './router.js';
import { API_VERSION, negotiateVersion, splitVersionPrefix } from './version.js';

export interface ApiServerOptions {
  router: Router;
  logger: Logger;
  /** berth's version, for the Server header. */
  serverVersion: string;
}

/** For hijacked streams (attach, exec start), added later: gets the raw socket after an Upgrade request. */
export type UpgradeHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

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

  constructor(options: ApiServerOptions) {
    this.router = options.router;
    this.logger = options.logger;
    this.serverHeader = `berth/${options.serverVersion} (linux)`;
    this.http = http.createServer({ keepAlive: true }, (req, res) => void this.handle(req, res));
    // Long pulls and builds stream for minutes; Node's default 5-minute request timeout would cut them.
    this.http.requestTimeout = 0;
    this.http.headersTimeout = 60_000;
  }

  /**
   * With an upgrade handler installed, Node hands requests carrying `Upgrade:` to it instead of the
   * router (without one, they reach the router like any request).
   */
  setUpgradeHandler(handler: UpgradeHandler): void {
    this.http.removeAllListeners('upgrade');
    this.http.on('upgrade', handler);
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
      const timer = setTimeout(() => this.http.closeAllConnections(), graceMs);
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

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
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
      ctx = new HttpRequestContext(req, res, route.params, target.query, apiVersion);
      await route.handler(ctx);
      if (ctx.activeStream) ctx.activeStream.end();
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
