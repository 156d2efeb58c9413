/**
 * Timing one docker CLI invocation with its stdout sent straight to /dev/null, as a shell's
 * `docker ... > /dev/null` would: benches that move ~100 MB of output must not measure node
 * buffering it.
 */
import { spawn } from 'node:child_process';
import type { BenchEngine } from './engines.js';
import { secondsSince } from './stats.js';

export interface TimedRun {
  seconds: number;
  code: number;
  stderr: string;
}

export function timeDockerToNull(engine: Pick<BenchEngine, 'env'>, args: string[]): Promise<TimedRun> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn('docker', args, { env: engine.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 64 * 1024) stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const seconds = secondsSince(start);
      resolve({ seconds, code: code ?? (signal ? 128 : -1), stderr });
    });
  });
}

/** Runs the docker CLI with stdout piped and counts the bytes it writes (without keeping them). */
export function countDockerStdout(engine: Pick<BenchEngine, 'env'>, args: string[]): Promise<{ bytes: number; code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { env: engine.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (bytes += c.length));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 64 * 1024) stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ bytes, code: code ?? -1, stderr }));
  });
}
