/**
 * The runtimes run from sealed in-memory copies (src/runtime/sealed-binary.ts). Needs crun and runc.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { openSync, closeSync, readFileSync, readlinkSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { sealedExecPath } from '../../src/runtime/sealed-binary.js';

const run = promisify(execFile);

for (const binary of ['/usr/bin/crun', '/usr/bin/runc']) {
  test(`${binary}: a sealed copy that runs, and nothing can change`, async () => {
    const p = sealedExecPath(binary);
    assert.match(p, new RegExp(`^/proc/${process.pid}/fd/\\d+$`));
    assert.equal(sealedExecPath(binary), p, 'one copy per binary');
    assert.match(readlinkSync(p), /^\/memfd:/);
    assert.ok(readFileSync(p).equals(readFileSync(binary)), 'the same bytes');
    const { stdout } = await run(p, ['--version']);
    assert.match(stdout, /version/);
    const fd = openSync(p, 'r+');
    try {
      assert.throws(() => writeSync(fd, Buffer.from('x'), 0, 1, 0), /EPERM/);
    } finally {
      closeSync(fd);
    }
  });
}

test('a binary that cannot be copied is run as it is', () => {
  assert.equal(sealedExecPath('/nonexistent/crun'), '/nonexistent/crun');
});
