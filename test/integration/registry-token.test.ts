/**
 * Bearer token auth against a real docker-registry: a tiny token server in this test signs JWTs
 * (RS256, certificate in the x5c header) with a key whose self-signed certificate is the
 * registry's rootcertbundle.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSign, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BerthError } from '../../src/errors.js';
import { RegistryClient } from '../../src/registry/client.js';
import { MediaType } from '../../src/registry/manifest.js';
import { parseReference } from '../../src/registry/reference.js';
import { sha256Digest } from '../../src/util/digest.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

const SERVICE = 'berth-test-registry';
const ISSUER = 'berth-test-issuer';
const USER = 'bob';
const PASSWORD = 'token pass';
const REFRESH_TOKEN = 'refresh-me';

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

interface TokenServer {
  url: string;
  requests: URL[];
  close(): Promise<void>;
}

async function startTokenServer(keyPem: string, certDerB64: string): Promise<TokenServer> {
  const requests: URL[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let form = '';
    req.on('data', (d: Buffer) => (form += d.toString()));
    req.on('end', () => answer(req, res, new URLSearchParams(form)));
  });
  const answer = (req: IncomingMessage, res: ServerResponse, form: URLSearchParams): void => {
    const url = new URL(req.url ?? '/', 'http://token.local');
    requests.push(url);
    const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
    // OAuth2-style POST: a refresh token stands for the user; scopes come space-separated.
    const viaRefresh = req.method === 'POST' && form.get('grant_type') === 'refresh_token' && form.get('refresh_token') === REFRESH_TOKEN;
    if (req.method === 'POST') for (const s of (form.get('scope') ?? '').split(' ')) if (s) url.searchParams.append('scope', s);
    const authed = viaRefresh || req.headers.authorization === expected;
    if ((req.headers.authorization && !authed) || (req.method === 'POST' && !viaRefresh)) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ details: 'incorrect username or password' }));
      return;
    }
    // Authenticated users get what they ask for; anonymous users get an empty grant.
    const access = authed
      ? url.searchParams.getAll('scope').flatMap((s) => {
          const [type, name, actions] = s.split(':');
          return type === 'repository' && name && actions ? [{ type, name, actions: actions.split(',') }] : [];
        })
      : [];
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [certDerB64] };
    const claims = { iss: ISSUER, sub: authed ? USER : '', aud: SERVICE, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(signingInput).sign(keyPem);
    const token = `${signingInput}.${b64url(signature)}`;
    const answerBody: Record<string, unknown> = req.method === 'POST' ? { access_token: token, expires_in: 300 } : { token, expires_in: 300, issued_at: new Date().toISOString() };
    if (authed && url.searchParams.get('offline_token') === 'true') answerBody['refresh_token'] = REFRESH_TOKEN;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answerBody));
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/token`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function isBerthError(code: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof BerthError, String(err));
    assert.equal(err.code, code, err.message);
    return true;
  };
}

describe('RegistryClient with bearer token auth', () => {
  let dir: string;
  let tokens: TokenServer;
  let reg: TestRegistry;
  let client: RegistryClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-token-'));
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=berth-token'], {
      stdio: 'ignore',
    });
    const certPem = readFileSync(certPath, 'utf8');
    const derB64 = certPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    tokens = await startTokenServer(readFileSync(keyPath, 'utf8'), derB64);
    reg = await startRegistry({ token: { realm: tokens.url, service: SERVICE, issuer: ISSUER, rootCertBundle: certPath } });
    client = new RegistryClient({ hosts: { insecure: [], mirrors: [] } });
  });
  after(async () => {
    await client?.close();
    await reg?.stop();
    await tokens?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pushes and pulls with a token, and reuses the cached token', async () => {
    const auth = { username: USER, password: PASSWORD };
    const ref = parseReference(`${reg.host}/tok/app:1`);
    const layer = Buffer.from('not really a tar, but a blob');
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256Digest('x')] } }));
    for (const b of [layer, config]) {
      assert.equal(await client.pushBlob(ref, { digest: sha256Digest(b), size: b.length }, () => Readable.from([b]), { auth }), 'pushed');
    }
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: sha256Digest(config), size: config.length },
        layers: [{ mediaType: MediaType.OciLayerGzip, digest: sha256Digest(layer), size: layer.length }],
      }),
    );
    assert.equal(await client.putManifest(ref, manifest, MediaType.OciManifest, { auth }), sha256Digest(manifest));
    const pushScopes = tokens.requests.flatMap((u) => u.searchParams.getAll('scope'));
    assert.ok(pushScopes.includes('repository:tok/app:pull,push'), pushScopes.join(' '));
    assert.ok(tokens.requests.every((u) => u.searchParams.get('service') === SERVICE));

    const first = await client.resolve(ref, { auth });
    assert.equal(first.manifestDigest, sha256Digest(manifest));
    const count = tokens.requests.length;
    const second = await client.resolve(ref, { auth });
    assert.equal(second.manifestDigest, first.manifestDigest);
    assert.equal(tokens.requests.length, count, 'the pull token is cached');
    const { body } = await client.fetchBlob(first.source, sha256Digest(layer), { auth });
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c as Buffer);
    assert.equal(sha256Digest(Buffer.concat(chunks)), sha256Digest(layer));
  });

  it('refuses anonymous and wrong-password pulls', async () => {
    const ref = parseReference(`${reg.host}/tok/app:1`);
    await assert.rejects(client.resolve(ref, {}), isBerthError('unauthorized'));
    await assert.rejects(client.resolve(ref, { auth: { username: USER, password: 'wrong' } }), isBerthError('unauthorized'));
  });

  it('pulls with an identity token (refresh token POST)', async () => {
    const fresh = new RegistryClient({ hosts: { insecure: [], mirrors: [] } });
    try {
      const before = tokens.requests.length;
      const resolved = await fresh.resolve(parseReference(`${reg.host}/tok/app:1`), { auth: { identitytoken: REFRESH_TOKEN } });
      assert.equal(resolved.ref.path, 'tok/app');
      assert.ok(tokens.requests.length > before);
      await assert.rejects(
        fresh.resolve(parseReference(`${reg.host}/tok/app:1`), { auth: { identitytoken: 'stale' } }),
        isBerthError('unauthorized'),
      );
    } finally {
      await fresh.close();
    }
  });

  it('logs in through the token server', async () => {
    const login = await client.login(reg.host, { username: USER, password: PASSWORD });
    assert.deepEqual(login, { status: 'Login Succeeded', identityToken: REFRESH_TOKEN });
    await assert.rejects(client.login(reg.host, { username: USER, password: 'wrong' }), isBerthError('unauthorized'));
  });
});
