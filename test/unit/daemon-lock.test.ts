import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { acquireDaemonLock, isLiveBerthd, removePidfile, writePidfile } from '../../src/daemon/lock.js';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-lock-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A pid that is certainly not running: above the kernel's pid_max. */
const DEAD_PID = 4194304 + 1;

test('the lock holds our pid and is released', () => {
  withDir((dir) => {
    const lock = acquireDaemonLock(dir);
    assert.equal(readFileSync(lock.path, 'utf8').trim(), String(process.pid));
    lock.release();
    assert.equal(existsSync(lock.path), false);
  });
});

test('a lock left by a dead process is taken over', () => {
  withDir((dir) => {
    writeFileSync(path.join(dir, 'berthd.lock'), `${DEAD_PID}\n`);
    const lock = acquireDaemonLock(dir);
    assert.equal(readFileSync(lock.path, 'utf8').trim(), String(process.pid));
    lock.release();
  });
});

test('a lock whose pid now belongs to some other program is stale', () => {
  withDir((dir) => {
    // pid 1 is alive but is not berthd.
    writeFileSync(path.join(dir, 'berthd.lock'), '1\n');
    assert.equal(isLiveBerthd(1), false);
    const lock = acquireDaemonLock(dir);
    lock.release();
  });
});

test('release leaves a lock that is no longer ours alone', () => {
  withDir((dir) => {
    const lock = acquireDaemonLock(dir);
    writeFileSync(lock.path, '12345\n');
    lock.release();
    assert.equal(existsSync(lock.path), true);
  });
});

test('pidfile is written and removed only by its owner', () => {
  withDir((dir) => {
    const file = path.join(dir, 'berthd.pid');
    writeFileSync(file, String(DEAD_PID));
    writePidfile(file);
    assert.equal(readFileSync(file, 'utf8'), String(process.pid));
    removePidfile(file, 42);
    assert.equal(existsSync(file), true);
    removePidfile(file);
    assert.equal(existsSync(file), false);
  });
});

test('dead and nonsense pids are not live daemons', () => {
  assert.equal(isLiveBerthd(DEAD_PID), false);
  assert.equal(isLiveBerthd(0), false);
  assert.equal(isLiveBerthd(-5), false);
});
