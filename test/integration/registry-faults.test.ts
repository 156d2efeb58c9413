/**
 * Registry misbehaviour a real registry will not produce on demand: lying digests, schema 1,
 * redirects to storage on another origin. A small HTTP server plays the registry.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import { BerthError } from '../../src/errors.js';
import { RegistryClient } from '../../src/registry/client.js';
import { MediaType } from '../../src/registry/manifest.js';
import { parseReference } from '../../src/registry/reference.js';
import { sha256Digest } from '../../src/util/digest.js';

interface Fake {
  host: string;
  url: string;
  seen: Array<{ path: string; headers: IncomingHttpHeaders }>;
  close(): Promise<void>;
}

interface FakeResponse {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

async function serve(handler: (path: string, headers: IncomingHttpHeaders) => FakeResponse): Promise<Fake> {
  const seen: Fake['seen'] = [];
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    seen.push({ path, headers: req.headers });
    const out = handler(path, req.headers);
    res.writeHead(out.status, out.headers ?? {});
    res.end(out.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: sha256Digest('c'), size: 1 },
    layers: [],
  }),
);
const schema1 = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'old', tag: 'x', fsLayers: [], history: [] }));
const blobData = Buffer.from('blob stored elsewhere');
const blobDigest = sha256Digest(blobData);

function isBerthError(code: string, pattern: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof BerthError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, pattern);
    return true;
  };
}

describe('RegistryClient against a misbehaving registry', () => {
  let storage: Fake;
  let registry: Fake;
  let client: RegistryClient;

  before(async () => {
    storage = await serve((path) =>
      path.startsWith('/storage/') ? { status: 200, headers: { 'content-length': String(blobData.length) }, body: blobData } : { status: 404 },
    );
    registry = await serve((path, headers): FakeResponse => {
      if (headers.authorization !== undefined && headers.authorization !== 'Basic dTpw') return { status: 403 };
      if (!headers.authorization) {
        return { status: 401, headers: { 'www-authenticate': 'Basic realm="fake"' }, body: '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}' };
      }
      switch (path) {
        case '/v2/liar/manifests/t':
          return { status: 200, headers: { 'content-type': MediaType.OciManifest, 'docker-content-digest': sha256Digest('other') }, body: manifest };
        case `/v2/liar/manifests/${sha256Digest('wanted')}`:
          return { status: 200, headers: { 'content-type': MediaType.OciManifest }, body: manifest };
        case '/v2/old/manifests/x':
          return { status: 200, headers: { 'content-type': MediaType.DockerSchema1SignedManifest }, body: schema1 };
        case '/v2/gone/manifests/x':
          return { status: 404, headers: { 'content-type': 'application/json' }, body: '{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}' };
        case `/v2/moved/blobs/${blobDigest}`:
          return { status: 307, headers: { location: `${storage.url}/storage/${blobDigest}?sig=1` } };
        default:
          return { status: 404 };
      }
    });
    client = new RegistryClient({ hosts: { insecure: [], mirrors: [] } });
  });
  after(async () => {
    await client.close();
    await registry.close();
    await storage.close();
  });

  const auth = { username: 'u', password: 'p' };

  it('refuses a manifest whose Docker-Content-Digest does not match its bytes', async () => {
    await assert.rejects(client.resolve(parseReference(`${registry.host}/liar:t`), { auth }), isBerthError('invalid_argument', /verification failed/));
  });

  it('refuses a manifest that does not hash to the digest asked for', async () => {
    await assert.rejects(
      client.resolve(parseReference(`${registry.host}/liar@${sha256Digest('wanted')}`), { auth }),
      isBerthError('invalid_argument', /verification failed/),
    );
  });

  it('refuses schema 1 manifests', async () => {
    await assert.rejects(client.resolve(parseReference(`${registry.host}/old:x`), { auth }), isBerthError('not_implemented', /not supported/));
  });

  it('reports an unknown repository with docker wording', async () => {
    await assert.rejects(
      client.resolve(parseReference(`${registry.host}/gone:x`), { auth }),
      isBerthError('not_found', new RegExp(`^repository ${registry.host}/gone not found: name unknown: repository name not known to registry$`)),
    );
  });

  it('follows a redirect to storage without sending credentials there', async () => {
    const { body, size } = await client.fetchBlob({ endpoint: registry.url, repository: 'moved' }, blobDigest, { auth });
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c as Buffer);
    assert.equal(size, blobData.length);
    assert.deepEqual(Buffer.concat(chunks), blobData);
    const storageHit = storage.seen.find((s) => s.path.startsWith('/storage/'));
    assert.ok(storageHit);
    assert.equal(storageHit.headers.authorization, undefined);
  });

  it('says forbidden when the registry refuses the credentials with 403', async () => {
    await assert.rejects(
      client.resolve(parseReference(`${registry.host}/liar:t`), { auth: { username: 'x', password: 'y' } }),
      isBerthError('forbidden', /pull access denied/),
    );
  });
});
