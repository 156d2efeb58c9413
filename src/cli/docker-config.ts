/**
 * docker's client config file (~/.docker/config.json): registry credentials under `auths`, stored
 * as base64("user:pass") the way docker writes them. Unknown keys are kept on rewrite; a credsStore
 * is not supported yet, so berth warns and uses the file's auths.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BerthError } from '../errors.js';
import type { RegistryAuth } from './api-client.js';

export const INDEX_SERVER = 'https://index.docker.io/v1/';

interface StoredAuth {
  auth?: string;
  identitytoken?: string;
  registrytoken?: string;
  email?: string;
  [k: string]: unknown;
}

interface ConfigDocument {
  auths?: Record<string, StoredAuth>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [k: string]: unknown;
}

export function defaultConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['DOCKER_CONFIG'] || path.join(os.homedir(), '.docker');
}

/** The config.json key for a registry host: docker.io's is the v1 index URL. */
export function authConfigKey(domain: string): string {
  return domain === 'docker.io' || domain === 'index.docker.io' ? INDEX_SERVER : domain;
}

/** credentials.ConvertToHostname: strip the scheme and any path. */
export function convertToHostname(url: string): string {
  let s = url;
  if (s.startsWith('http://')) s = s.slice('http://'.length);
  else if (s.startsWith('https://')) s = s.slice('https://'.length);
  const slash = s.indexOf('/');
  return slash >= 0 ? s.slice(0, slash) : s;
}

export class DockerConfig {
  readonly file: string;
  private doc: ConfigDocument;
  private readonly warn: (msg: string) => void;
  private warned = false;

  private constructor(file: string, doc: ConfigDocument, warn: (msg: string) => void) {
    this.file = file;
    this.doc = doc;
    this.warn = warn;
  }

  static load(dir: string, warn: (msg: string) => void = () => {}): DockerConfig {
    const file = path.join(dir, 'config.json');
    let doc: ConfigDocument = {};
    try {
      const text = fs.readFileSync(file, 'utf8');
      if (text.trim()) doc = JSON.parse(text) as ConfigDocument;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new BerthError('invalid_argument', `loading config file: ${file}: ${(e as Error).message}`);
      }
    }
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) doc = {};
    return new DockerConfig(file, doc, warn);
  }

  private checkStore(): void {
    if ((this.doc.credsStore || this.doc.credHelpers) && !this.warned) {
      this.warned = true;
      this.warn(`WARNING: credential helpers are not supported by berth; using the auths in ${this.file}`);
    }
  }

  /** The stored credentials for a config key (see authConfigKey); an empty object when none. */
  getAuth(key: string): RegistryAuth {
    this.checkStore();
    const auths = this.doc.auths ?? {};
    let entry = auths[key];
    let address = key;
    if (!entry) {
      for (const [k, v] of Object.entries(auths)) {
        if (convertToHostname(k) === key) {
          entry = v;
          address = k;
          break;
        }
      }
    }
    if (!entry) return {};
    const out: RegistryAuth = {};
    if (typeof entry.auth === 'string' && entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i < 0) throw new BerthError('invalid_argument', 'invalid auth configuration file');
      out.username = decoded.slice(0, i);
      out.password = decoded.slice(i + 1);
    }
    if (typeof entry.email === 'string' && entry.email) out.email = entry.email;
    out.serveraddress = address;
    if (typeof entry.identitytoken === 'string' && entry.identitytoken) out.identitytoken = entry.identitytoken;
    if (typeof entry.registrytoken === 'string' && entry.registrytoken) out.registrytoken = entry.registrytoken;
    return out;
  }

  /** The credentials for pulling or pushing an image in `domain` (e.g. "docker.io", "127.0.0.1:5000"). */
  authForDomain(domain: string): RegistryAuth {
    return this.getAuth(authConfigKey(domain));
  }

  setAuth(key: string, auth: RegistryAuth): void {
    this.checkStore();
    const auths = (this.doc.auths ??= {});
    const entry: StoredAuth = { ...(auths[key] ?? {}) };
    delete entry.identitytoken;
    if (auth.username !== undefined && auth.password !== undefined && !auth.identitytoken) {
      entry.auth = Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
    } else if (auth.identitytoken) {
      // docker keeps the username with a token and drops the password
      entry.auth = Buffer.from(`${auth.username ?? ''}:`).toString('base64');
      entry.identitytoken = auth.identitytoken;
    }
    auths[key] = entry;
  }

  /** Remove the key; returns whether anything was stored under it. */
  removeAuth(key: string): boolean {
    const auths = this.doc.auths;
    if (!auths || !(key in auths)) return false;
    delete auths[key];
    return true;
  }

  /** Write atomically with mode 0600, as docker does (credentials live here). */
  save(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.doc, null, '\t') + '\n', { mode: 0o600 });
    fs.chmodSync(tmp, 0o600);
    fs.renameSync(tmp, this.file);
  }

  /** A copy of the document, for tests and `--format`. */
  snapshot(): ConfigDocument {
    return JSON.parse(JSON.stringify(this.doc)) as ConfigDocument;
  }
}
