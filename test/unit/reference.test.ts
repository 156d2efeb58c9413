import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/errors.js';
import {
  familiarName,
  familiarString,
  parseReference,
  parseRepositoryAndTag,
  referenceString,
  repositoryName,
  withDefaultTag,
} from '../../src/registry/reference.js';

const D = 'sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c';
const HEX64 = '1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a';

function rejectsWith(input: string, message: RegExp): void {
  assert.throws(
    () => parseReference(input),
    (err: unknown) => err instanceof BerthError && err.code === 'invalid_argument' && message.test(err.message),
    `expected ${JSON.stringify(input)} to be rejected with ${message}`,
  );
}

describe('parseReference: Docker\'s valid names', () => {
  const valid = [
    'docker/docker',
    'library/debian',
    'debian',
    'docker.io/docker/docker',
    'docker.io/library/debian',
    'docker.io/debian',
    'index.docker.io/docker/docker',
    'index.docker.io/library/debian',
    'index.docker.io/debian',
    '127.0.0.1:5000/docker/docker',
    '127.0.0.1:5000/library/debian',
    '127.0.0.1:5000/debian',
    '192.168.0.1',
    '192.168.0.1:80',
    '192.168.0.1:8/debian',
    '192.168.0.2:25000/debian',
    'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
    '[fc00::1]:5000/docker',
    '[fc00::1]:5000/docker/docker',
    '[fc00:1:2:3:4:5:6:7]:5000/library/debian',
    `docker.io/${HEX64}`,
    'Docker/docker',
    'DOCKER/docker',
    'docker-rules/docker',
    'docker---rules/docker',
    'd/docker',
    'jess/t',
    'dock__er/docker',
    'localhost/foo',
    'localhost:5000/foo/bar:tag',
    `busybox:latest@${D}`,
    'xn--n3h.com:18080/foo',
  ];
  for (const name of valid) {
    it(name, () => {
      assert.doesNotThrow(() => parseReference(name));
    });
  }
});

describe('parseReference: Docker\'s invalid names', () => {
  const invalid = [
    'https://github.com/docker/docker',
    'docker/Docker',
    '-docker',
    '-docker/docker',
    '-docker.io/docker/docker',
    'docker///docker',
    'docker.io/docker/Docker',
    'docker.io/docker///docker',
    '[fc00::1]',
    '[fc00::1]:5000',
    'fc00::1:5000/debian',
    '[fe80::1%eth0]:5000/debian',
    '[2001:db8:3:4::192.0.2.33]:5000/debian',
    HEX64,
    'docker-/docker',
    '-docker-/docker',
    '____/____',
    '_docker/_docker',
    'dock..er/docker',
    'dock_.er/docker',
    'dock-.er/docker',
    'docker/',
    '',
    ':justtag',
    `@${D}`,
    'busybox:-tag',
    'busybox:' + 'a'.repeat(129),
    'busybox@sha256:abc',
    'foo_bar.com:8080/x',
  ];
  for (const name of invalid) {
    it(JSON.stringify(name.length > 60 ? name.slice(0, 60) + '…' : name), () => {
      assert.throws(() => parseReference(name), BerthError);
    });
  }
});

describe('parseReference: messages', () => {
  it('uses docker\'s lowercase message with the normalised path', () => {
    rejectsWith('Busybox', /^invalid reference format: repository name \(library\/Busybox\) must be lowercase$/);
    rejectsWith('docker.io/docker/Docker', /repository name \(docker\/Docker\) must be lowercase/);
  });
  it('refuses a 64-hex name like docker does', () => {
    rejectsWith(HEX64, new RegExp(`^invalid repository name \\(${HEX64}\\), cannot specify 64-byte hexadecimal strings$`));
  });
  it('calls a malformed name an invalid reference format', () => {
    rejectsWith('busybox:-x', /^invalid reference format$/);
    rejectsWith('a//b', /^invalid reference format$/);
  });
  it('names bad digests', () => {
    rejectsWith('busybox@sha256:abcd', /^invalid reference format$/);
    rejectsWith(`busybox@sha256:${'a'.repeat(40)}`, /invalid checksum digest length/);
    rejectsWith(`busybox@md5:${'a'.repeat(32)}`, /unsupported digest algorithm/);
  });
  it('limits the repository path to 255 characters', () => {
    assert.doesNotThrow(() => parseReference(`example.com/${'a'.repeat(255)}`));
    rejectsWith(`example.com/${'a'.repeat(256)}`, /must not be more than 255 characters/);
  });
});

describe('parseReference: normalisation', () => {
  const table: Array<[string, string, string, string?, string?]> = [
    // input, domain, path, tag, digest
    ['busybox', 'docker.io', 'library/busybox'],
    ['busybox:1.36', 'docker.io', 'library/busybox', '1.36'],
    ['docker.io/busybox', 'docker.io', 'library/busybox'],
    ['index.docker.io/busybox', 'docker.io', 'library/busybox'],
    ['index.docker.io/foo/bar', 'docker.io', 'foo/bar'],
    ['foo/bar', 'docker.io', 'foo/bar'],
    ['test_com/foo', 'docker.io', 'test_com/foo'],
    ['test.com/foo', 'test.com', 'foo'],
    ['test-com:8080/foo', 'test-com:8080', 'foo'],
    ['localhost/foo', 'localhost', 'foo'],
    ['127.0.0.1:5000/busybox:v1', '127.0.0.1:5000', 'busybox', 'v1'],
    ['Foo/bar', 'Foo', 'bar'],
    ['docker.io/library/foo/bar', 'docker.io', 'library/foo/bar'],
    [`redis@${D}`, 'docker.io', 'library/redis', undefined, D],
    [`busybox:latest@${D}`, 'docker.io', 'library/busybox', 'latest', D],
  ];
  for (const [input, domain, path, tag, digest] of table) {
    it(input, () => {
      const r = parseReference(input);
      assert.equal(r.domain, domain);
      assert.equal(r.path, path);
      assert.equal(r.tag, tag);
      assert.equal(r.digest, digest);
    });
  }
});

describe('familiar and full forms', () => {
  const table: Array<[string, string, string]> = [
    // input, familiarName, repositoryName
    ['fooo/bar', 'fooo/bar', 'docker.io/fooo/bar'],
    ['library/ubuntu', 'ubuntu', 'docker.io/library/ubuntu'],
    ['nonlibrary/ubuntu', 'nonlibrary/ubuntu', 'docker.io/nonlibrary/ubuntu'],
    ['other/library', 'other/library', 'docker.io/other/library'],
    ['127.0.0.1:8000/private/moonbase', '127.0.0.1:8000/private/moonbase', '127.0.0.1:8000/private/moonbase'],
    ['127.0.0.1:8000/privatebase', '127.0.0.1:8000/privatebase', '127.0.0.1:8000/privatebase'],
    ['example.com:8000/privatebase', 'example.com:8000/privatebase', 'example.com:8000/privatebase'],
    ['ubuntu-12.04-base', 'ubuntu-12.04-base', 'docker.io/library/ubuntu-12.04-base'],
    ['docker.io/foo', 'foo', 'docker.io/library/foo'],
    ['library/foo/bar', 'library/foo/bar', 'docker.io/library/foo/bar'],
    ['store/foo/bar', 'store/foo/bar', 'docker.io/store/foo/bar'],
    ['Foo/bar', 'Foo/bar', 'Foo/bar'],
  ];
  for (const [input, familiar, full] of table) {
    it(input, () => {
      const r = parseReference(input);
      assert.equal(familiarName(r), familiar);
      assert.equal(repositoryName(r), full);
      // The familiar form parses back to the same repository.
      assert.equal(repositoryName(parseReference(familiar)), full);
    });
  }

  it('renders tags and digests', () => {
    assert.equal(referenceString(withDefaultTag(parseReference('busybox'))), 'docker.io/library/busybox:latest');
    assert.equal(familiarString(withDefaultTag(parseReference('busybox'))), 'busybox:latest');
    assert.equal(referenceString(parseReference(`busybox@${D}`)), `docker.io/library/busybox@${D}`);
    assert.equal(familiarString(parseReference(`busybox@${D}`)), `busybox@${D}`);
    const both = `busybox:latest@${D}`;
    assert.equal(referenceString(parseReference(both)), `docker.io/library/${both}`);
    assert.equal(familiarString(parseReference(both)), both);
    assert.equal(familiarString(parseReference('127.0.0.1:5000/x:1')), '127.0.0.1:5000/x:1');
  });

  it('adds latest only when neither tag nor digest is present', () => {
    assert.equal(withDefaultTag(parseReference('a')).tag, 'latest');
    assert.equal(withDefaultTag(parseReference('a:b')).tag, 'b');
    const byDigest = withDefaultTag(parseReference(`a@${D}`));
    assert.equal(byDigest.tag, undefined);
    assert.equal(byDigest.digest, D);
  });
});

describe('parseRepositoryAndTag (fromImage + tag)', () => {
  it('applies a tag', () => {
    assert.equal(referenceString(parseRepositoryAndTag('busybox', '1.36')), 'docker.io/library/busybox:1.36');
  });
  it('treats a digest in the tag field as a digest', () => {
    const r = parseRepositoryAndTag('busybox', D);
    assert.equal(r.digest, D);
    assert.equal(r.tag, undefined);
  });
  it('keeps a tag written in the name when no tag is given', () => {
    assert.equal(parseRepositoryAndTag('busybox:1.2', '').tag, '1.2');
    assert.equal(parseRepositoryAndTag('busybox:1.2').tag, '1.2');
  });
  it('lets the tag field replace a tag in the name', () => {
    assert.equal(parseRepositoryAndTag('busybox:1.2', '1.3').tag, '1.3');
  });
  it('rejects a bad tag and a 64-hex repository', () => {
    assert.throws(() => parseRepositoryAndTag('busybox', '-bad'), /invalid tag format/);
    assert.throws(() => parseRepositoryAndTag(HEX64, 'latest'), /cannot specify 64-byte hexadecimal strings/);
  });
});
