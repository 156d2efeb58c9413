/**
 * The container CLI tests' harness: the CLI run against a FakeDaemon (cli-fake-daemon.ts) with hijacked routes, and a
 * fake terminal on stdin when asked.
 */
import path from 'node:path';
import { run } from '../../src/cli/main.js';
import { FakeDaemon, testIo, type Route, type UpgradeRoute } from './cli-fake-daemon.js';

export type { UpgradeRoute };

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** setRawMode calls made by the CLI on a fake terminal stdin, in order. */
export const rawModes: boolean[] = [];

/** Run the CLI against a fresh fake daemon, then stop it. */
export async function withContainerDaemon(
  routes: Record<string, Route>,
  upgrades: Record<string, UpgradeRoute>,
  fn: (d: FakeDaemon, berth: (args: string[], stdin?: string, opts?: { stdinTty?: boolean }) => Promise<CliResult>) => Promise<void>,
): Promise<void> {
  const d = new FakeDaemon(routes, { upgrades });
  await d.start();
  try {
    await fn(d, async (args, stdin, opts) => {
      const io = testIo({ DOCKER_CONFIG: path.join(d.dir, 'docker-config') }, stdin);
      if (opts?.stdinTty) {
        // a terminal on stdin (stdout stays a pipe): raw mode is recorded, not applied
        io.stdin.isTTY = true;
        io.stdin.setRawMode = (mode: boolean) => rawModes.push(mode);
      }
      const code = await run(['-H', `unix://${d.socket}`, ...args], io);
      return { code, out: io.stdout.text, err: io.stderr.text };
    });
  } finally {
    await d.stop();
  }
}
