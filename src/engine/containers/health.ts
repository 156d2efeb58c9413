import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { conmonExec } from '../../runtime/conmon.js';
import type { OciRuntime } from '../../runtime/oci-runtime.js';
import { readBundleProcess } from '../../runtime/oci-spec.js';

/** Docker's Config.Healthcheck (durations in nanoseconds). */
export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  Retries?: number;
}

export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  Log: Array<{ Start: string; End: string; ExitCode: number; Output: string }>;
}

const NS_PER_MS = 1_000_000;
const LOG_KEEP = 5;

/** The command a healthcheck runs, or undefined for none/NONE. */
export function healthCommand(hc: HealthConfig | undefined): string[] | undefined {
  const test = hc?.Test;
  if (!test?.length || test[0] === 'NONE') return undefined;
  if (test[0] === 'CMD') return test.slice(1);
  if (test[0] === 'CMD-SHELL') return ['/bin/sh', '-c', test.slice(1).join(' ')];
  return test;
}

export interface ProbeTarget {
  id: string;
  bundle: string;
  execRoot: string;
  runtime: OciRuntime;
}

/** Runs one probe through conmon, as `docker exec` does, and returns its exit code and output. */
export async function runProbe(t: ProbeTarget, cmd: string[], timeoutMs: number): Promise<{ code: number; output: string }> {
  t.runtime.expectCgroupAttach(100);
  const base = await readBundleProcess(t.bundle);
  const sessionId = `health-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const dir = path.join(t.execRoot, 'health', sessionId);
  const logPath = path.join(dir, 'out.log');
  try {
    const session = await conmonExec({
      containerId: t.id,
      sessionId,
      sessionDir: dir,
      runtime: t.runtime,
      process: { ...base, terminal: false, args: cmd },
      terminal: false,
      stdin: false,
      attach: false,
      logPath,
    });
    const timer = new Promise<number>((resolve) => setTimeout(() => resolve(-1), timeoutMs).unref());
    const code = await Promise.race([session.exitCode.catch(() => 127), timer]);
    const raw = await readFile(logPath, 'utf8').catch(() => '');
    const output = raw
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ').slice(3).join(' '))
      .join('\n');
    if (code === -1) return { code: -1, output: `Health check exceeded timeout (${timeoutMs}ms)` };
    return { code, output: output ? output + '\n' : '' };
  } finally {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Applies one probe result to the state, as Docker's health monitor does; returns whether the status changed. */
export function recordProbe(
  state: HealthState,
  result: { code: number; output: string; start: Date },
  cfg: HealthConfig,
  startedAt: number,
): boolean {
  const before = state.Status;
  state.Log.push({ Start: result.start.toISOString(), End: new Date().toISOString(), ExitCode: result.code, Output: result.output });
  if (state.Log.length > LOG_KEEP) state.Log.splice(0, state.Log.length - LOG_KEEP);
  const retries = cfg.Retries && cfg.Retries > 0 ? cfg.Retries : 3;
  const inStartPeriod = Date.now() - startedAt < (cfg.StartPeriod ?? 0) / NS_PER_MS;
  if (result.code === 0) {
    state.Status = 'healthy';
    state.FailingStreak = 0;
  } else if (!inStartPeriod) {
    state.FailingStreak += 1;
    if (state.FailingStreak >= retries) state.Status = 'unhealthy';
  }
  return state.Status !== before;
}

export function intervalMs(cfg: HealthConfig): number {
  return cfg.Interval && cfg.Interval > 0 ? cfg.Interval / NS_PER_MS : 30_000;
}

export function timeoutMs(cfg: HealthConfig): number {
  return cfg.Timeout && cfg.Timeout > 0 ? cfg.Timeout / NS_PER_MS : 30_000;
}
