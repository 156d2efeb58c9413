import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Spec } from './oci-types.js';

/**
 * crun compiles a container's seccomp profile to BPF on every create, which costs about 20 ms with
 * Docker's default profile — most of a short container's start. crun leaves the compiled program in
 * its state dir (`seccomp.bpf`) and takes a precompiled one through the `run.oci.seccomp_bpf_data`
 * annotation, so the daemon keeps what crun compiled, keyed by the profile, the runtime binary and its
 * version, and hands it back for every later container with the same profile.
 */

const ANNOTATION = 'run.oci.seccomp_bpf_data';

export class SeccompBpfCache {
  private readonly programs = new Map<string, string>();

  /** `dir` is the daemon's own (under exec-root, so a reboot or a new crun starts afresh). */
  constructor(
    private readonly dir: string,
    private readonly runtimeId: string,
  ) {}

  /**
   * Adds the precompiled program to `spec` when there is one; returns the key to `learn` under when
   * there is not (undefined: nothing to do, e.g. seccomp is off).
   */
  async apply(spec: Spec): Promise<string | undefined> {
    const profile = spec.linux?.seccomp;
    if (!profile) return undefined;
    const key = createHash('sha256').update(this.runtimeId).update('\0').update(JSON.stringify(profile)).digest('hex');
    let program = this.programs.get(key);
    if (program === undefined) {
      program = await readFile(join(this.dir, `${key}.bpf`)).then(
        (b) => b.toString('base64'),
        () => undefined,
      );
      if (program !== undefined) this.programs.set(key, program);
    }
    if (program === undefined) return key;
    spec.annotations = { ...spec.annotations, [ANNOTATION]: program };
    return undefined;
  }

  /** Keeps the program crun compiled for a container it has just created (state dir `stateDir`). */
  async learn(key: string, stateDir: string): Promise<void> {
    const bpf = await readFile(join(stateDir, 'seccomp.bpf')).catch(() => undefined);
    if (!bpf || bpf.length === 0 || bpf.length % 8 !== 0) return;
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, `${key}.${process.pid}.tmp`);
    await copyFile(join(stateDir, 'seccomp.bpf'), tmp);
    await rename(tmp, join(this.dir, `${key}.bpf`));
    this.programs.set(key, bpf.toString('base64'));
  }
}
