/**
 * The setup the builder's integration tests share: a daemon with busybox:latest imported, a scratch directory for
 * build contexts, and the docker CLI pinned to the classic builder (the one berth implements).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import tarStream from 'tar-stream';
import { importBusybox } from './busybox-image.js';
import { type CliResult, runCli, startDaemon, type TestDaemon } from './berthd.js';

export type ContextFiles = Record<string, string>;

export interface BuildFixture {
  daemon: TestDaemon;
  /** Scratch directory removed by stop(). */
  work: string;
  /** The docker CLI with DOCKER_BUILDKIT=0, so `docker build` talks to /build instead of BuildKit's session API. */
  docker(args: string[], opts?: { input?: string | Buffer }): Promise<CliResult>;
  /** Writes files (paths may hold directories) into a new context directory under work and returns its path. */
  context(name: string, files: ContextFiles): Promise<string>;
  /** Removes every container, stops the daemon and removes work. */
  stop(): Promise<void>;
}

const CLASSIC_BUILDER = { DOCKER_BUILDKIT: '0' };

export async function startBuildFixture(workPrefix: string): Promise<BuildFixture> {
  const daemon = await startDaemon();
  const work = await mkdtemp(join(tmpdir(), workPrefix));
  const docker = (args: string[], opts: { input?: string | Buffer } = {}): Promise<CliResult> =>
    runCli('docker', args, daemon, { ...opts, env: CLASSIC_BUILDER });
  const fixture: BuildFixture = {
    daemon,
    work,
    docker,
    async context(name, files) {
      const dir = join(work, name);
      await mkdir(dir, { recursive: true });
      for (const [p, text] of Object.entries(files)) {
        await mkdir(dirname(join(dir, p)), { recursive: true });
        await writeFile(join(dir, p), text);
      }
      return dir;
    },
    async stop() {
      const ps = await docker(['ps', '-aq']);
      for (const id of ps.stdout.split('\n').filter(Boolean)) await docker(['rm', '-f', id]);
      await daemon.stop();
      await rm(work, { recursive: true, force: true });
    },
  };
  try {
    await importBusybox(daemon);
  } catch (err) {
    await fixture.stop();
    throw err;
  }
  return fixture;
}

/** A build context as the tar stream an Engine API client sends. */
export function contextTar(files: ContextFiles): NodeJS.ReadableStream {
  const pack = tarStream.pack();
  for (const [name, text] of Object.entries(files)) pack.entry({ name, mode: 0o644 }, text);
  pack.finalize();
  return pack as unknown as NodeJS.ReadableStream;
}
