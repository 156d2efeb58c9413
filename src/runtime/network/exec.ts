import { spawn } from 'node:child_process';
import { BerthError } from '../../errors.js';

/** What a helper program printed; `code` is its exit status. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a short-lived helper (ip, nft, unshare, nsenter) with `input` on stdin. Never throws for a non-zero exit:
 * callers decide, because "already gone" is success for most removals.
 */
export function execTool(file: string, args: readonly string[], input?: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new BerthError('unavailable', `${file}: ${e.message}`, { cause: e })));
    child.on('close', (code, signal) =>
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    // EPIPE when the tool exits before reading everything is reported through 'close' anyway.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

/** Like execTool, but a non-zero exit becomes a BerthError('internal') carrying the tool's stderr. */
export async function execChecked(file: string, args: readonly string[], input?: string): Promise<string> {
  const r = await execTool(file, args, input);
  if (r.code !== 0) {
    const what = [file, ...args].join(' ');
    throw new BerthError('internal', `${what} failed (exit ${r.code}): ${r.stderr.trim()}${input ? `\ninput:\n${input}` : ''}`);
  }
  return r.stdout;
}
