/**
 * What every command gets: the process streams (injectable for tests), the lazily built API client
 * and the docker config file.
 */
import type { Readable, Writable } from 'node:stream';
import { ApiClient } from './api-client.js';
import { DockerConfig } from './docker-config.js';

export type OutStream = Writable & { isTTY?: boolean; columns?: number };
export type InStream = Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };

export interface CliIo {
  stdout: OutStream;
  stderr: OutStream;
  stdin: InStream;
  env: NodeJS.ProcessEnv;
}

export interface GlobalOptions {
  host: string;
  configDir: string;
  debug: boolean;
  logLevel: string;
}

export class CliContext {
  readonly io: CliIo;
  readonly globals: GlobalOptions;
  readonly clientVersion: string;
  private apiClient: ApiClient | undefined;
  private dockerConfig: DockerConfig | undefined;

  constructor(io: CliIo, globals: GlobalOptions, clientVersion: string) {
    this.io = io;
    this.globals = globals;
    this.clientVersion = clientVersion;
  }

  get client(): ApiClient {
    this.apiClient ??= new ApiClient({
      host: this.globals.host,
      version: this.io.env['DOCKER_API_VERSION'] || undefined,
      userAgent: `berth-cli/${this.clientVersion}`,
    });
    return this.apiClient;
  }

  get config(): DockerConfig {
    this.dockerConfig ??= DockerConfig.load(this.globals.configDir, (msg) => this.err(msg + '\n'));
    return this.dockerConfig;
  }

  out(s: string): void {
    this.io.stdout.write(s);
  }

  err(s: string): void {
    this.io.stderr.write(s);
  }

  close(): void {
    this.apiClient?.close();
  }
}

/** Read a whole stream (stdin for --password-stdin and prompts). */
export async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Read one line from a stream without consuming past it more than needed (prompts). */
export function readLine(stream: InStream): Promise<string | null> {
  return new Promise((resolve) => {
    let buf = '';
    const onData = (chunk: Buffer | string): void => {
      buf += chunk.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) {
        cleanup();
        const rest = buf.slice(i + 1);
        if (rest) stream.unshift(Buffer.from(rest));
        resolve(buf.slice(0, i).replace(/\r$/, ''));
      }
    };
    const onEnd = (): void => {
      cleanup();
      resolve(buf === '' ? null : buf);
    };
    const cleanup = (): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onEnd);
      stream.pause();
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onEnd);
    stream.resume();
  });
}
