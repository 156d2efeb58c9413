/**
 * The OCI distribution protocol over HTTP(S): resolve a reference to a manifest and config, stream
 * blobs, push blobs and manifests, and log in. One keep-alive undici Agent carries every request;
 * authentication challenges are answered once per registry and the tokens cached.
 */
import { Readable, Transform } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { BerthError, invalidArgument, notFound, unavailable } from '../errors.js';
import { type Digest, isDigest, sha256Digest } from '../util/digest.js';
import {
  type AuthChallenge,
  type RegistryAuth,
  TokenCache,
  basicAuthorization,
  credentialKey,
  hasCredentials,
  parseTokenResponse,
  parseWwwAuthenticate,
  repositoryScope,
  tokenRequestUrl,
} from './auth.js';
import {
  type Endpoint,
  type RegistryHostsConfig,
  endpointForOrigin,
  isInsecureRegistry,
  registryEndpoints,
  registryHostOf,
} from './hosts.js';
import {
  type ImageConfig,
  type ImageManifest,
  MANIFEST_ACCEPT,
  formatPlatform,
  hostPlatform,
  isConfigMediaType,
  layerCompression,
  parseImageConfig,
  parseManifestOrIndex,
  selectPlatform,
  type Platform,
} from './manifest.js';
import { type Reference, DEFAULT_DOMAIN, familiarName, familiarString } from './reference.js';
import { describeRegistryFailure, registryError, statusLine } from './registry-errors.js';

export type { RegistryAuth } from './auth.js';
export type { RegistryHostsConfig } from './hosts.js';

export interface ResolvedImage {
  /** What was asked. */
  ref: Reference;
  manifestDigest: Digest;
  manifestMediaType: string;
  rawManifest: Buffer;
  manifest: ImageManifest;
  /** Set when the reference named an index or manifest list: its digest is the RepoDigest docker shows. */
  indexDigest?: Digest;
  rawIndex?: Buffer;
  indexMediaType?: string;
  configDigest: Digest;
  rawConfig: Buffer;
  config: ImageConfig;
  /** Where the blobs must be fetched from (a mirror or the registry itself). */
  source: { endpoint: string; repository: string };
}

export interface RegistryClientOptions {
  hosts: RegistryHostsConfig;
  userAgent?: string;
}

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_CONFIG_BYTES = 64 * 1024 * 1024;
const MAX_ERROR_BODY_BYTES = 64 * 1024;
const MAX_REDIRECTS = 8;
const CONNECT_TIMEOUT_MS = 15_000;

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
type Response = Dispatcher.ResponseData;

/** A request that never got an HTTP answer: the only failure that moves on to the next endpoint. */
class TransportError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'TransportError';
  }
}

interface SendRequest {
  method: Method;
  url: URL;
  /** '' for requests that need no repository scope (/v2/). */
  scope: string;
  auth: RegistryAuth | undefined;
  headers?: Record<string, string>;
  /** Called for each attempt, so a retried request gets a fresh stream. */
  body?: () => Buffer | Readable;
}

function header(res: Response, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function goMethod(m: Method): string {
  return m[0] + m.slice(1).toLowerCase();
}

function causeText(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return causeText(err.errors[0]);
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    if (err.message) return err.message;
    if (typeof code === 'string') return code;
  }
  return String(err);
}

async function readLimited(body: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const b = chunk as Buffer;
    total += b.length;
    if (total > limit) {
      body.destroy();
      throw invalidArgument(`${what} is larger than ${limit} bytes`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks, total);
}

async function readErrorBody(res: Response): Promise<string> {
  try {
    return (await readLimited(res.body, MAX_ERROR_BODY_BYTES, 'error body')).toString('utf8');
  } catch {
    return '';
  }
}

async function discard(res: Response): Promise<void> {
  try {
    await res.body.dump();
  } catch {
    // a body we do not want cannot fail us
  }
}

function countingStream(onProgress: (bytes: number) => void): Transform {
  let sent = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      sent += chunk.length;
      onProgress(sent);
      done(null, chunk);
    },
  });
}

/** The challenge we answer: Bearer when offered (it carries scopes), else Basic. */
function pickChallenge(res: Response): AuthChallenge | undefined {
  const raw = res.headers['www-authenticate'];
  const all = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).flatMap((h) => parseWwwAuthenticate(h));
  return all.find((c) => c.scheme === 'bearer') ?? all.find((c) => c.scheme === 'basic');
}

export class RegistryClient {
  private readonly hosts: RegistryHostsConfig;
  private readonly userAgent: string;
  private readonly agent: Agent;
  private insecureAgent: Agent | undefined;
  private readonly tokens = new TokenCache();
  /** The challenge each origin answered with last, so later requests authorise up front. */
  private readonly challenges = new Map<string, AuthChallenge>();
  /** For insecure registries reached over http after https failed: skip https next time. */
  private readonly workingOrigin = new Map<string, string>();

  constructor(opts: RegistryClientOptions) {
    this.hosts = { insecure: [...opts.hosts.insecure], mirrors: [...opts.hosts.mirrors] };
    this.userAgent = opts.userAgent ?? 'berth/0.1.0';
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 120_000,
      connections: 16,
      connect: { timeout: CONNECT_TIMEOUT_MS },
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.agent.close(), this.insecureAgent?.close()]);
  }

  // ---- public operations ------------------------------------------------------------------

  async resolve(ref: Reference, opts: { auth?: RegistryAuth; platform?: Platform } = {}): Promise<ResolvedImage> {
    const reference = ref.digest ?? ref.tag ?? 'latest';
    const scope = repositoryScope(ref.path, ['pull']);
    return this.withEndpoints(this.endpointsFor(ref.domain, true), async (ep) => {
      const top = await this.getManifest(ep, ref, reference, scope, opts.auth);
      if (ref.digest !== undefined && top.digest !== ref.digest) {
        throw invalidArgument(`manifest verification failed for digest ${ref.digest}: got ${top.digest}`);
      }
      const parsed = parseManifestOrIndex(top.body, top.contentType);
      const resolved: Partial<ResolvedImage> = { ref, source: { endpoint: ep.origin, repository: ref.path } };
      if (parsed.kind === 'index') {
        const want = opts.platform ?? hostPlatform();
        const desc = selectPlatform(parsed.index, want);
        if (!desc) throw notFound(`no matching manifest for ${formatPlatform(want)} in the manifest list entries`);
        const child = await this.getManifest(ep, { domain: ref.domain, path: ref.path, digest: desc.digest }, desc.digest, scope, opts.auth);
        if (child.digest !== desc.digest) {
          throw invalidArgument(`manifest verification failed for digest ${desc.digest}: got ${child.digest}`);
        }
        if (child.body.length !== desc.size) {
          throw invalidArgument(`manifest ${desc.digest} has size ${child.body.length}, the index says ${desc.size}`);
        }
        const inner = parseManifestOrIndex(child.body, child.contentType ?? desc.mediaType);
        if (inner.kind !== 'manifest') throw invalidArgument(`manifest ${desc.digest} for ${formatPlatform(want)} is itself an index`);
        Object.assign(resolved, {
          indexDigest: top.digest,
          rawIndex: top.body,
          indexMediaType: parsed.mediaType,
          manifestDigest: child.digest,
          manifestMediaType: inner.mediaType,
          rawManifest: child.body,
          manifest: inner.manifest,
        });
      } else {
        Object.assign(resolved, {
          manifestDigest: top.digest,
          manifestMediaType: parsed.mediaType,
          rawManifest: top.body,
          manifest: parsed.manifest,
        });
      }
      const manifest = resolved.manifest!;
      const configDesc = manifest.config;
      if (!isConfigMediaType(configDesc.mediaType)) {
        throw invalidArgument(`unsupported image config media type ${JSON.stringify(configDesc.mediaType)}: not a container image`);
      }
      for (const layer of manifest.layers) layerCompression(layer.mediaType);
      const rawConfig = await this.getBlobBuffer(ep, ref.path, configDesc.digest, scope, opts.auth, MAX_CONFIG_BYTES);
      const configDigest = sha256Digest(rawConfig);
      if (configDigest !== configDesc.digest || rawConfig.length !== configDesc.size) {
        throw invalidArgument(`image config verification failed for digest ${configDesc.digest}`);
      }
      const config = parseImageConfig(rawConfig);
      if (config.rootfs.diff_ids.length !== manifest.layers.length) {
        throw invalidArgument(
          `layers from manifest don't match image configuration (${manifest.layers.length} layers, ${config.rootfs.diff_ids.length} diff_ids)`,
        );
      }
      return { ...resolved, configDigest, rawConfig, config } as ResolvedImage;
    });
  }

  /**
   * Streams a blob from where resolve found the image. `size` is the Content-Length, or -1 when the
   * server did not send one. The caller verifies the digest while storing.
   */
  async fetchBlob(
    source: ResolvedImage['source'],
    digest: Digest,
    opts: { auth?: RegistryAuth } = {},
  ): Promise<{ body: Readable; size: number }> {
    const ep = endpointForOrigin(source.endpoint, this.hosts);
    const scope = repositoryScope(source.repository, ['pull']);
    const res = await this.withEndpoints([ep], (e) => this.getBlobResponse(e, source.repository, digest, scope, opts.auth));
    const length = Number(header(res, 'content-length'));
    return { body: res.body, size: Number.isSafeInteger(length) && length >= 0 ? length : -1 };
  }

  async hasBlob(ref: Reference, digest: Digest, opts: { auth?: RegistryAuth } = {}): Promise<boolean> {
    const scope = repositoryScope(ref.path, ['pull']);
    return this.withEndpoints(this.endpointsFor(ref.domain, false), (ep) => this.headBlob(ep, ref, digest, scope, opts.auth));
  }

  /** Uploads a blob unless the registry has it: HEAD, then one monolithic POST + PUT, streamed. */
  async pushBlob(
    ref: Reference,
    desc: { digest: Digest; size: number },
    open: () => Readable,
    opts: { auth?: RegistryAuth; onProgress?: (bytes: number) => void } = {},
  ): Promise<'exists' | 'pushed'> {
    const scope = repositoryScope(ref.path, ['pull', 'push']);
    return this.withEndpoints(this.endpointsFor(ref.domain, false), async (ep) => {
      if (await this.headBlob(ep, ref, desc.digest, scope, opts.auth)) return 'exists';
      const start = await this.send(ep, {
        method: 'POST',
        url: new URL(`/v2/${ref.path}/blobs/uploads/`, ep.origin),
        scope,
        auth: opts.auth,
        headers: { 'content-length': '0' },
      });
      if (start.statusCode !== 202) throw await this.failure(start, `starting upload to ${familiarName(ref)}`);
      const location = header(start, 'location');
      await discard(start);
      if (!location) throw new BerthError('internal', `registry ${ep.origin} started an upload without a Location`);
      const uploadUrl = new URL(location, `${ep.origin}/v2/${ref.path}/blobs/uploads/`);
      uploadUrl.searchParams.set('digest', desc.digest);
      const put = await this.send(ep, {
        method: 'PUT',
        url: uploadUrl,
        scope,
        auth: opts.auth,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) },
        body: () => {
          const source = open();
          if (!opts.onProgress) return source;
          const counted = countingStream(opts.onProgress);
          source.on('error', (err) => counted.destroy(err));
          return source.pipe(counted);
        },
      });
      if (put.statusCode !== 201 && put.statusCode !== 204) {
        throw await this.failure(put, `uploading blob ${desc.digest} to ${familiarName(ref)}`);
      }
      await discard(put);
      return 'pushed';
    });
  }

  /** PUT a manifest by ref.tag (or ref.digest); returns its digest. */
  async putManifest(ref: Reference, body: Buffer, mediaType: string, opts: { auth?: RegistryAuth } = {}): Promise<Digest> {
    const reference = ref.tag ?? ref.digest;
    if (reference === undefined) throw invalidArgument('a manifest is pushed by tag or digest');
    const digest = sha256Digest(body);
    if (ref.tag === undefined && ref.digest !== digest) {
      throw invalidArgument(`manifest digest ${digest} does not match reference digest ${ref.digest}`);
    }
    const scope = repositoryScope(ref.path, ['pull', 'push']);
    return this.withEndpoints(this.endpointsFor(ref.domain, false), async (ep) => {
      const res = await this.send(ep, {
        method: 'PUT',
        url: new URL(`/v2/${ref.path}/manifests/${reference}`, ep.origin),
        scope,
        auth: opts.auth,
        headers: { 'content-type': mediaType, 'content-length': String(body.length) },
        body: () => body,
      });
      if (res.statusCode !== 201 && res.statusCode !== 200 && res.statusCode !== 202) {
        throw await this.failure(res, `pushing manifest for ${familiarString(ref)}`);
      }
      const answered = header(res, 'docker-content-digest');
      await discard(res);
      if (answered !== undefined && isDigest(answered) && answered !== digest) {
        throw new BerthError('internal', `registry stored manifest as ${answered}, expected ${digest}`);
      }
      return digest;
    });
  }

  /** Checks credentials against GET /v2/ as `docker login` does. */
  async login(serveraddress: string, auth: RegistryAuth): Promise<{ status: string; identityToken?: string }> {
    const host = registryHostOf(serveraddress);
    return this.withEndpoints(this.endpointsFor(host, false), async (ep) => {
      const url = new URL('/v2/', ep.origin);
      const first = await this.rawRequest(ep, 'GET', url, this.baseHeaders(auth.registrytoken ? { authorization: `Bearer ${auth.registrytoken}` } : {}));
      if (first.statusCode === 200) {
        await discard(first);
        return { status: 'Login Succeeded' };
      }
      if (first.statusCode !== 401) throw await this.failure(first, `login to ${url.href}`);
      const challenge = pickChallenge(first);
      await discard(first);
      if (!challenge) throw new BerthError('unauthorized', `login attempt to ${url.href} failed with status: ${statusLine(401)}`);
      this.challenges.set(ep.origin, challenge);
      let authorization: string;
      let identityToken: string | undefined;
      if (challenge.scheme === 'bearer') {
        const t = await this.fetchToken(ep, challenge, [], auth, true);
        authorization = `Bearer ${t.token}`;
        identityToken = t.refreshToken;
      } else {
        if (!auth.username) throw new BerthError('unauthorized', `login attempt to ${url.href} failed with status: ${statusLine(401)}`);
        authorization = basicAuthorization(auth.username, auth.password ?? '');
      }
      const second = await this.rawRequest(ep, 'GET', url, this.baseHeaders({ authorization }));
      if (second.statusCode !== 200) {
        await discard(second);
        throw new BerthError(
          second.statusCode === 403 ? 'forbidden' : 'unauthorized',
          `login attempt to ${url.href} failed with status: ${statusLine(second.statusCode)}`,
        );
      }
      await discard(second);
      return identityToken ? { status: 'Login Succeeded', identityToken } : { status: 'Login Succeeded' };
    });
  }

  // ---- protocol steps ---------------------------------------------------------------------

  private async getManifest(
    ep: Endpoint,
    ref: Reference,
    reference: string,
    scope: string,
    auth: RegistryAuth | undefined,
  ): Promise<{ body: Buffer; digest: Digest; contentType: string | undefined }> {
    const res = await this.send(ep, {
      method: 'GET',
      url: new URL(`/v2/${ref.path}/manifests/${reference}`, ep.origin),
      scope,
      auth,
      headers: { accept: MANIFEST_ACCEPT.join(', ') },
    });
    if (res.statusCode !== 200) {
      const body = await readErrorBody(res);
      const { text, entries } = describeRegistryFailure(res.statusCode, body);
      const shown = isDigest(reference)
        ? familiarString({ domain: ref.domain, path: ref.path, digest: reference })
        : familiarString({ domain: ref.domain, path: ref.path, tag: reference });
      if (res.statusCode === 404) {
        if (entries.some((e) => e.code === 'NAME_UNKNOWN')) throw notFound(`repository ${familiarName(ref)} not found: ${text}`);
        throw notFound(`manifest for ${shown} not found: ${text}`);
      }
      if (res.statusCode === 401 || res.statusCode === 403) {
        throw registryError(
          res.statusCode,
          `pull access denied for ${familiarName(ref)}, repository does not exist or may require 'docker login': ${text}`,
        );
      }
      throw registryError(res.statusCode, `error fetching manifest for ${shown} from ${ep.origin}: ${text}`);
    }
    const body = await readLimited(res.body, MAX_MANIFEST_BYTES, 'manifest');
    const digest = sha256Digest(body);
    const claimed = header(res, 'docker-content-digest');
    if (claimed !== undefined && isDigest(claimed) && claimed !== digest) {
      throw invalidArgument(`manifest verification failed: registry says ${claimed}, content is ${digest}`);
    }
    return { body, digest, contentType: header(res, 'content-type') };
  }

  private async headBlob(ep: Endpoint, ref: Reference, digest: Digest, scope: string, auth: RegistryAuth | undefined): Promise<boolean> {
    const res = await this.send(ep, { method: 'HEAD', url: new URL(`/v2/${ref.path}/blobs/${digest}`, ep.origin), scope, auth });
    await discard(res);
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    if (res.statusCode >= 300 && res.statusCode < 400) return true; // redirected to storage: it exists
    throw registryError(res.statusCode, `checking blob ${digest} in ${familiarName(ref)}: ${statusLine(res.statusCode)}`);
  }

  /** GET a blob, following redirects to storage (without our credentials if it is elsewhere). */
  private async getBlobResponse(ep: Endpoint, repository: string, digest: Digest, scope: string, auth: RegistryAuth | undefined): Promise<Response> {
    let url = new URL(`/v2/${repository}/blobs/${digest}`, ep.origin);
    let res = await this.send(ep, { method: 'GET', url, scope, auth });
    for (let hops = 0; res.statusCode >= 300 && res.statusCode < 400 && res.statusCode !== 304; hops++) {
      const location = header(res, 'location');
      await discard(res);
      if (!location || hops >= MAX_REDIRECTS) throw new BerthError('internal', `too many or broken redirects fetching blob ${digest}`);
      url = new URL(location, url);
      res =
        url.origin === ep.origin
          ? await this.send(ep, { method: 'GET', url, scope, auth })
          : await this.rawRequest(this.endpointForUrl(url), 'GET', url, this.baseHeaders({}));
    }
    if (res.statusCode === 200) return res;
    const body = await readErrorBody(res);
    const { text } = describeRegistryFailure(res.statusCode, body);
    if (res.statusCode === 404) throw notFound(`blob ${digest} not found in ${repository}: ${text}`);
    throw registryError(res.statusCode, `error fetching blob ${digest} from ${ep.origin}: ${text}`);
  }

  private async getBlobBuffer(
    ep: Endpoint,
    repository: string,
    digest: Digest,
    scope: string,
    auth: RegistryAuth | undefined,
    limit: number,
  ): Promise<Buffer> {
    const res = await this.getBlobResponse(ep, repository, digest, scope, auth);
    return readLimited(res.body, limit, `blob ${digest}`);
  }

  // ---- transport and authentication -------------------------------------------------------

  private endpointsFor(domain: string, pull: boolean): Endpoint[] {
    const eps = registryEndpoints(domain, this.hosts, { useMirrors: pull });
    if (domain === DEFAULT_DOMAIN) return eps; // never reorder around mirrors
    const known = this.workingOrigin.get(domain);
    if (!known) return eps;
    return [...eps.filter((e) => e.origin === known), ...eps.filter((e) => e.origin !== known)];
  }

  private endpointForUrl(url: URL): Endpoint {
    return { origin: url.origin, tlsVerify: url.protocol === 'https:' && !isInsecureRegistry(url.host, this.hosts), mirror: false };
  }

  /** Runs `fn` against each endpoint in turn until one answers over HTTP. */
  private async withEndpoints<T>(endpoints: readonly Endpoint[], fn: (ep: Endpoint) => Promise<T>): Promise<T> {
    const failures: string[] = [];
    let lastCause: unknown;
    for (const ep of endpoints) {
      try {
        const out = await fn(ep);
        const host = new URL(ep.origin).host;
        if (!ep.mirror && endpoints.length > 1) this.workingOrigin.set(host, ep.origin);
        return out;
      } catch (err) {
        if (!(err instanceof TransportError)) throw err;
        failures.push(err.message);
        lastCause = err.cause;
      }
    }
    throw unavailable(failures.join('; ') || 'no registry endpoint to try', lastCause);
  }

  private baseHeaders(extra: Record<string, string>): Record<string, string> {
    return { 'user-agent': this.userAgent, ...extra };
  }

  private dispatcherFor(ep: Endpoint): Agent {
    if (ep.tlsVerify || ep.origin.startsWith('http:')) return this.agent;
    this.insecureAgent ??= new Agent({
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 120_000,
      connections: 16,
      connect: { timeout: CONNECT_TIMEOUT_MS, rejectUnauthorized: false },
    });
    return this.insecureAgent;
  }

  private async rawRequest(
    ep: Endpoint,
    method: Method,
    url: URL,
    headers: Record<string, string>,
    body?: Buffer | Readable,
  ): Promise<Response> {
    try {
      return await request(url, { method, headers, body: body ?? null, dispatcher: this.dispatcherFor(ep) });
    } catch (err) {
      if (body instanceof Readable) body.destroy();
      throw new TransportError(`${goMethod(method)} "${url.href}": ${causeText(err)}`, { cause: err });
    }
  }

  /** One request with authentication: authorise up front when the origin's scheme is known, else answer a 401 once. */
  private async send(ep: Endpoint, req: SendRequest): Promise<Response> {
    const sameOrigin = req.url.origin === ep.origin;
    let authorization = sameOrigin ? await this.authorization(ep, req.scope, req.auth) : undefined;
    for (let attempt = 0; ; attempt++) {
      const headers = this.baseHeaders(req.headers ?? {});
      if (authorization) headers['authorization'] = authorization;
      const res = await this.rawRequest(ep, req.method, req.url, headers, req.body?.());
      if (res.statusCode !== 401 || attempt > 0 || !sameOrigin || req.auth?.registrytoken) return res;
      const challenge = pickChallenge(res);
      if (!challenge) return res;
      if (challenge.scheme === 'basic' && !hasCredentials(req.auth)) return res;
      if (challenge.scheme !== 'basic' && challenge.scheme !== 'bearer') return res;
      await discard(res);
      this.challenges.set(ep.origin, challenge);
      // A token we sent was refused (expired or too narrow): fetch a new one with the scopes asked for.
      if (challenge.scheme === 'bearer') this.tokens.delete(ep.origin, credentialKey(req.auth), req.scope);
      authorization = await this.authorization(ep, req.scope, req.auth, challenge.params['scope']);
    }
  }

  private async authorization(ep: Endpoint, scope: string, auth: RegistryAuth | undefined, extraScope?: string): Promise<string | undefined> {
    if (auth?.registrytoken) return `Bearer ${auth.registrytoken}`;
    const challenge = this.challenges.get(ep.origin);
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') {
      return auth?.username ? basicAuthorization(auth.username, auth.password ?? '') : undefined;
    }
    const creds = credentialKey(auth);
    const cached = this.tokens.get(ep.origin, creds, scope);
    if (cached) return `Bearer ${cached}`;
    const scopes = [scope];
    if (extraScope && !extraScope.split(' ').includes(scope)) scopes.push(...extraScope.split(' '));
    const t = await this.fetchToken(ep, challenge, scopes, auth, false);
    this.tokens.set(ep.origin, creds, scope, t);
    return `Bearer ${t.token}`;
  }

  /** The token protocol: POST with a refresh token, or GET with Basic credentials (or none). */
  private async fetchToken(
    ep: Endpoint,
    challenge: AuthChallenge,
    scopes: readonly string[],
    auth: RegistryAuth | undefined,
    offline: boolean,
  ): Promise<ReturnType<typeof parseTokenResponse>> {
    const realm = challenge.params['realm'];
    if (!realm) throw new BerthError('unauthorized', `registry ${ep.origin} asked for a bearer token but named no realm`);
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      throw new BerthError('unauthorized', `registry ${ep.origin} named an invalid token realm ${JSON.stringify(realm)}`);
    }
    const service = challenge.params['service'];
    const realmEp = this.endpointForUrl(realmUrl);
    let res: Response;
    if (auth?.identitytoken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: auth.identitytoken, client_id: 'berth' });
      if (service) form.set('service', service);
      const scopeParam = scopes.filter((s) => s !== '').join(' ');
      if (scopeParam) form.set('scope', scopeParam);
      const body = Buffer.from(form.toString());
      res = await this.rawRequest(
        realmEp,
        'POST',
        realmUrl,
        this.baseHeaders({ 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length) }),
        body,
      );
      if (res.statusCode === 404 || res.statusCode === 405) {
        // Token servers without OAuth POST support: fall back to GET with the refresh token as password.
        await discard(res);
        res = await this.tokenGet(realmEp, realmUrl, service, scopes, { username: '<token>', password: auth.identitytoken }, offline);
      }
    } else {
      res = await this.tokenGet(realmEp, realmUrl, service, scopes, auth, offline);
    }
    if (res.statusCode !== 200) {
      const body = await readErrorBody(res);
      const { text } = describeRegistryFailure(res.statusCode, body);
      const what = hasCredentials(auth) ? 'failed to authorize' : 'failed to fetch anonymous token';
      throw registryError(res.statusCode === 401 || res.statusCode === 403 ? res.statusCode : 401, `${what}: ${realmUrl.origin}${realmUrl.pathname}: ${text}`);
    }
    const text = (await readLimited(res.body, MAX_ERROR_BODY_BYTES, 'token response')).toString('utf8');
    try {
      return parseTokenResponse(text);
    } catch (err) {
      throw new BerthError('unauthorized', `token server ${realmUrl.origin}: ${(err as Error).message}`);
    }
  }

  private async tokenGet(
    ep: Endpoint,
    realm: URL,
    service: string | undefined,
    scopes: readonly string[],
    auth: RegistryAuth | undefined,
    offline: boolean,
  ): Promise<Response> {
    const extra: Record<string, string> = {};
    if (auth?.username) extra['account'] = auth.username;
    if (offline && auth?.username) Object.assign(extra, { offline_token: 'true', client_id: 'berth' });
    const url = tokenRequestUrl(realm.href, service, scopes, extra);
    const headers = this.baseHeaders(auth?.username ? { authorization: basicAuthorization(auth.username, auth.password ?? '') } : {});
    return this.rawRequest(ep, 'GET', url, headers);
  }

  /** A BerthError for an unexpected response, carrying the registry's own message. */
  private async failure(res: Response, doing: string): Promise<BerthError> {
    const body = await readErrorBody(res);
    const { text } = describeRegistryFailure(res.statusCode, body);
    return registryError(res.statusCode, `${doing}: ${text}`);
  }
}
