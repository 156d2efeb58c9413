/**
 * Image references, parsed and normalised the way Docker's distribution/reference package does
 * (ParseNormalizedNamed, FamiliarName, FamiliarString, TagNameOnly), so that names, error texts and
 * RepoTags agree with what docker users see.
 */
import { BerthError, invalidArgument } from '../errors.js';
import { type Digest, isDigest } from '../util/digest.js';

export interface Reference {
  /** Registry host, possibly with port: 'docker.io', '127.0.0.1:5000', '[::1]:5000'. */
  domain: string;
  /** Repository path inside the registry: 'library/busybox'. */
  path: string;
  tag?: string;
  digest?: Digest;
}

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const DEFAULT_TAG = 'latest';
/** distribution/reference checks the repository path (not the domain) against this limit. */
const REPOSITORY_NAME_MAX = 255;

// The grammar of distribution/reference, regexp.go.
const ALPHANUMERIC = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALPHANUMERIC}(?:${SEPARATOR}${ALPHANUMERIC})*`;
const REMOTE_NAME = `${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const DOMAIN_NAME_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_NAME_COMPONENT}(?:\\.${DOMAIN_NAME_COMPONENT})*`;
const IPV6_ADDRESS = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN_AND_PORT = `(?:${DOMAIN_NAME}|${IPV6_ADDRESS})(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const NAME = `(?:${DOMAIN_AND_PORT}/)?${REMOTE_NAME}`;

const REFERENCE_RE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const ANCHORED_NAME_RE = new RegExp(`^(?:(${DOMAIN_AND_PORT})/)?(${REMOTE_NAME})$`);
const ANCHORED_TAG_RE = new RegExp(`^${TAG}$`);
const ANCHORED_DIGEST_RE = new RegExp(`^${DIGEST}$`);
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;

const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

const ERR_INVALID_FORMAT = 'invalid reference format';

/** A full image ID given where a repository name is expected. */
export function isImageIdHex(s: string): boolean {
  return IDENTIFIER_RE.test(s);
}

/**
 * Parses a name as typed by a user ('busybox', 'foo/bar:1', '127.0.0.1:5000/x@sha256:..') into a
 * fully qualified reference. Both a tag and a digest may be present, as docker allows.
 */
export function parseReference(s: string): Reference {
  if (IDENTIFIER_RE.test(s)) {
    throw invalidArgument(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  const { domain, remainder } = splitDockerDomain(s);
  const tagSep = remainder.indexOf(':');
  const remote = tagSep > -1 ? remainder.slice(0, tagSep) : remainder;
  if (remote.toLowerCase() !== remote) {
    throw invalidArgument(`invalid reference format: repository name (${remote}) must be lowercase`);
  }
  return parseCanonical(`${domain}/${remainder}`);
}

/** distribution/reference `Parse` of an already domain-qualified string. */
function parseCanonical(s: string): Reference {
  if (s === '') throw invalidArgument('repository name must have at least one component');
  const m = REFERENCE_RE.exec(s);
  if (!m) {
    const lower = s.toLowerCase();
    if (lower !== s && REFERENCE_RE.test(lower)) {
      throw invalidArgument(`${ERR_INVALID_FORMAT}: repository name must be lowercase`);
    }
    throw invalidArgument(ERR_INVALID_FORMAT);
  }
  const name = m[1]!;
  const nm = ANCHORED_NAME_RE.exec(name);
  const domain = nm?.[1] ?? '';
  const path = nm?.[2] ?? name;
  if (path.length > REPOSITORY_NAME_MAX) {
    throw invalidArgument(`repository name must not be more than ${REPOSITORY_NAME_MAX} characters`);
  }
  const ref: Reference = { domain, path };
  if (m[2]) ref.tag = m[2];
  if (m[3]) ref.digest = checkDigest(m[3]);
  return ref;
}

/** go-digest's Parse rules, narrowed to the one algorithm berth stores. */
function checkDigest(s: string): Digest {
  const colon = s.indexOf(':');
  const algorithm = s.slice(0, colon);
  const hex = s.slice(colon + 1);
  const wantLength = DIGEST_HEX_LENGTH[algorithm];
  if (wantLength === undefined) throw invalidArgument('unsupported digest algorithm');
  if (hex.length !== wantLength) throw invalidArgument('invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(hex)) throw invalidArgument('invalid checksum digest format');
  if (!isDigest(s)) {
    // sha384/sha512 are valid for docker, but nothing in berth can address content by them.
    throw new BerthError('not_implemented', `unsupported digest algorithm: ${algorithm}`);
  }
  return s;
}

function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const slash = name.indexOf('/');
  if (slash === -1) return { domain: DEFAULT_DOMAIN, remainder: OFFICIAL_REPO_PREFIX + name };
  const maybeDomain = name.slice(0, slash);
  const maybeRemainder = name.slice(slash + 1);
  let domain: string;
  let remainder: string;
  if (maybeDomain === 'localhost') {
    [domain, remainder] = [maybeDomain, maybeRemainder];
  } else if (maybeDomain === LEGACY_DEFAULT_DOMAIN) {
    [domain, remainder] = [DEFAULT_DOMAIN, maybeRemainder];
  } else if (/[.:]/.test(maybeDomain) || maybeDomain.toLowerCase() !== maybeDomain) {
    // A dot or a port marks a host; so does uppercase, which no repository namespace may have.
    [domain, remainder] = [maybeDomain, maybeRemainder];
  } else {
    [domain, remainder] = [DEFAULT_DOMAIN, name];
  }
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain, remainder };
}

/**
 * The reference the Engine API's `fromImage` + `tag` pair stands for: `tag` may hold a digest, and
 * a given tag replaces one written in `repo`.
 */
export function parseRepositoryAndTag(repo: string, tag?: string): Reference {
  const ref = parseReference(repo);
  if (tag === undefined || tag === '') return ref;
  if (ANCHORED_DIGEST_RE.test(tag)) {
    return { domain: ref.domain, path: ref.path, digest: checkDigest(tag) };
  }
  if (!ANCHORED_TAG_RE.test(tag)) throw invalidArgument('invalid tag format');
  const out: Reference = { domain: ref.domain, path: ref.path, tag };
  if (ref.digest) out.digest = ref.digest;
  return out;
}

/** Validates a tag on its own, as `docker tag` does for the target. */
export function isValidTag(tag: string): boolean {
  return ANCHORED_TAG_RE.test(tag);
}

/** TagNameOnly: a bare name means ':latest'. */
export function withDefaultTag(r: Reference): Reference {
  if (r.tag !== undefined || r.digest !== undefined) return r;
  return { ...r, tag: DEFAULT_TAG };
}

/** The reference without tag or digest. */
export function trimReference(r: Reference): Reference {
  return { domain: r.domain, path: r.path };
}

/** 'docker.io/library/busybox' */
export function repositoryName(r: Reference): string {
  return r.domain === '' ? r.path : `${r.domain}/${r.path}`;
}

function withSuffixes(name: string, r: Reference): string {
  let s = name;
  if (r.tag !== undefined) s += `:${r.tag}`;
  if (r.digest !== undefined) s += `@${r.digest}`;
  return s;
}

/** 'docker.io/library/busybox:latest', '...@sha256:..', or 'repo:tag@sha256:..' */
export function referenceString(r: Reference): string {
  return withSuffixes(repositoryName(r), r);
}

/** 'busybox', 'foo/bar', '127.0.0.1:5000/busybox' */
export function familiarName(r: Reference): string {
  if (r.domain !== DEFAULT_DOMAIN) return repositoryName(r);
  if (r.path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = r.path.slice(OFFICIAL_REPO_PREFIX.length);
    if (!rest.includes('/')) return rest;
  }
  return r.path;
}

/** 'busybox:latest', 'busybox@sha256:...' */
export function familiarString(r: Reference): string {
  return withSuffixes(familiarName(r), r);
}

/** True when both name the same repository and the same tag/digest. */
export function sameReference(a: Reference, b: Reference): boolean {
  return a.domain === b.domain && a.path === b.path && a.tag === b.tag && a.digest === b.digest;
}
