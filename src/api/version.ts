/** API version negotiation: which `/v1.NN` prefixes berthd accepts, and what it advertises. */
import { invalidArgument } from '../errors.js';
import { API_VERSION, MIN_API_VERSION } from '../engine/system/system-info.js';

export { API_VERSION, MIN_API_VERSION };

/** Compares dotted versions numerically ('1.9' < '1.10'); missing parts count as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = Number.parseInt(pa[i] ?? '0', 10) || 0;
    const y = Number.parseInt(pb[i] ?? '0', 10) || 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export interface VersionedPath {
  /** The version from a `/vX.Y` prefix, or undefined for an unversioned path. */
  version: string | undefined;
  /** The path without the prefix, always starting with '/'. */
  path: string;
}

/** Moby's prefix is `/v{version:[0-9.]+}`; anything else is part of the route path. */
export function splitVersionPrefix(path: string): VersionedPath {
  const m = /^\/v([0-9.]+)(\/.*)?$/.exec(path);
  if (!m || !m[1]) return { version: undefined, path };
  return { version: m[1], path: m[2] ?? '/' };
}

/** The version a request is served at; throws docker's 400 messages for versions out of range. */
export function negotiateVersion(requested: string | undefined): string {
  if (requested === undefined || requested === '') return API_VERSION;
  if (compareVersions(requested, MIN_API_VERSION) < 0) {
    throw invalidArgument(
      `client version ${requested} is too old. Minimum supported API version is ${MIN_API_VERSION}, ` +
        'please upgrade your client to a newer version',
    );
  }
  if (compareVersions(requested, API_VERSION) > 0) {
    throw invalidArgument(`client version ${requested} is too new. Maximum supported API version is ${API_VERSION}`);
  }
  return requested;
}
