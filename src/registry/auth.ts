/**
 * Registry authentication: WWW-Authenticate challenges, Basic credentials, and the Docker token
 * protocol (GET realm with Basic creds, or POST with a refresh token), with a cache of bearer
 * tokens per registry, credentials and scope.
 */
import { createHash } from 'node:crypto';

/** Docker's AuthConfig: what clients send in X-Registry-Auth and keep in ~/.docker/config.json. */
export interface RegistryAuth {
  username?: string;
  password?: string;
  /** base64("user:password"), as config.json stores it; some clients send only this. */
  auth?: string;
  email?: string;
  /** A refresh token from an earlier login, exchanged for access tokens with a POST. */
  identitytoken?: string;
  /** A bearer token sent as is. */
  registrytoken?: string;
  serveraddress?: string;
}

export interface AuthChallenge {
  /** Lower-case scheme: 'bearer', 'basic'. */
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a WWW-Authenticate header (RFC 7235): one or more challenges, each a scheme followed by
 * comma-separated `key=value` or `key="quoted value"` parameters.
 */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const out: AuthChallenge[] = [];
  let i = 0;
  const n = header.length;
  const skipSpace = (): void => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  const readQuoted = (): string => {
    i++; // opening quote
    let s = '';
    while (i < n && header[i] !== '"') {
      if (header[i] === '\\' && i + 1 < n) i++;
      s += header[i];
      i++;
    }
    i++; // closing quote
    return s;
  };
  let current: AuthChallenge | undefined;
  while (i < n) {
    skipSpace();
    if (header[i] === ',') {
      i++;
      continue;
    }
    const start = i;
    const token = readToken();
    if (token === '') {
      i++; // stray character: skip it rather than loop forever
      continue;
    }
    skipSpace();
    if (header[i] === '=' && current !== undefined) {
      i++;
      skipSpace();
      const value = header[i] === '"' ? readQuoted() : readToken68();
      current.params[token.toLowerCase()] = value;
      continue;
    }
    if (header[i] === '=' && current === undefined) {
      // A parameter before any scheme is malformed; drop it.
      i = start + token.length + 1;
      continue;
    }
    current = { scheme: token.toLowerCase(), params: {} };
    out.push(current);
  }
  return out;

  function readToken68(): string {
    const start = i;
    while (i < n && header[i] !== ',' && header[i] !== ' ' && header[i] !== '\t') i++;
    return header.slice(start, i);
  }
}

/** 'repository:library/busybox:pull,push' */
export function repositoryScope(repository: string, actions: readonly string[]): string {
  return `repository:${repository}:${actions.join(',')}`;
}

export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/** Fills username/password from the `auth` field (base64 "user:password") when only that was given. */
export function expandAuthField(auth: RegistryAuth): RegistryAuth {
  if (!auth.auth || auth.username) return auth;
  const decoded = Buffer.from(auth.auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return auth;
  return { ...auth, username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export function hasCredentials(auth: RegistryAuth | undefined): boolean {
  return !!auth && (!!auth.username || !!auth.identitytoken || !!auth.registrytoken);
}

/** A short fingerprint of credentials, so tokens obtained for one user are never used for another. */
export function credentialKey(auth: RegistryAuth | undefined): string {
  if (!hasCredentials(auth)) return 'anonymous';
  const a = auth!;
  return createHash('sha256')
    .update(JSON.stringify([a.username ?? '', a.password ?? '', a.identitytoken ?? '', a.registrytoken ?? '']))
    .digest('hex')
    .slice(0, 16);
}

export interface TokenResponse {
  token: string;
  /** Seconds the token stays valid. */
  expiresIn: number;
  issuedAt?: Date;
  refreshToken?: string;
}

/** Reads a token server's JSON answer: `token` or `access_token`, `expires_in` (default 60 s). */
export function parseTokenResponse(body: string): TokenResponse {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new Error('token server answered with something that is not JSON');
  }
  if (typeof doc !== 'object' || doc === null) throw new Error('token server answered with something that is not an object');
  const d = doc as Record<string, unknown>;
  const token = typeof d['token'] === 'string' && d['token'] !== '' ? d['token'] : d['access_token'];
  if (typeof token !== 'string' || token === '') throw new Error('token server answer has no token');
  // Docker treats a lifetime under 60 s as 60 s.
  const expiresIn = typeof d['expires_in'] === 'number' && d['expires_in'] >= 60 ? d['expires_in'] : 60;
  const out: TokenResponse = { token, expiresIn };
  if (typeof d['issued_at'] === 'string') {
    const at = new Date(d['issued_at']);
    if (!Number.isNaN(at.getTime())) out.issuedAt = at;
  }
  if (typeof d['refresh_token'] === 'string' && d['refresh_token'] !== '') out.refreshToken = d['refresh_token'];
  return out;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Bearer tokens per (registry origin, credentials, scope), dropped a little before they expire. */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  private static key(origin: string, credentials: string, scope: string): string {
    return `${origin}\u0000${credentials}\u0000${scope}`;
  }

  get(origin: string, credentials: string, scope: string): string | undefined {
    const k = TokenCache.key(origin, credentials, scope);
    const hit = this.tokens.get(k);
    if (!hit) return undefined;
    if (hit.expiresAt <= this.now()) {
      this.tokens.delete(k);
      return undefined;
    }
    return hit.token;
  }

  set(origin: string, credentials: string, scope: string, t: TokenResponse): void {
    // Keep a margin so a token does not expire between our check and the registry's.
    const margin = Math.min(10, t.expiresIn / 4) * 1000;
    const lifetime = t.expiresIn * 1000 - margin;
    this.tokens.set(TokenCache.key(origin, credentials, scope), { token: t.token, expiresAt: this.now() + lifetime });
  }

  delete(origin: string, credentials: string, scope: string): void {
    this.tokens.delete(TokenCache.key(origin, credentials, scope));
  }
}

/** The URL for a token GET: realm?service=..&scope=..(&scope=..). */
export function tokenRequestUrl(realm: string, service: string | undefined, scopes: readonly string[], extra: Record<string, string> = {}): URL {
  const u = new URL(realm);
  if (service) u.searchParams.set('service', service);
  for (const s of scopes) if (s !== '') u.searchParams.append('scope', s);
  for (const [k, v] of Object.entries(extra)) u.searchParams.set(k, v);
  return u;
}
