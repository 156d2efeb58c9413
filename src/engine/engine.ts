/**
 * Minimal stand-in for the engine, with the agreed shape; the lead replaces this file with the real
 * engine that wires the image service and the stores.
 */
import { mkdir } from 'node:fs/promises';

export interface EngineConfig {
  dataRoot: string;
  execRoot: string;
  registryMirrors: string[];
  insecureRegistries: string[];
  defaultRuntime: string;
  logLevel: string;
}

export interface Engine {
  readonly config: EngineConfig;
  readonly images: { count(): number; diskUsage(): Promise<number> };
  close(): Promise<void>;
}

export async function createEngine(config: EngineConfig): Promise<Engine> {
  await mkdir(config.dataRoot, { recursive: true, mode: 0o711 });
  return {
    config,
    images: { count: () => 0, diskUsage: async () => 0 },
    close: async () => {},
  };
}
