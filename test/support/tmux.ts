import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A terminal for interactive CLI tests: a detached tmux session on a server socket of the test's own,
 * so the real docker CLI sees a TTY as a user's shell would give it.
 */
export class TmuxSession {
  private constructor(
    private readonly socket: string,
    readonly name: string,
  ) {}

  /** Starts `command` (a shell line) in a new session of `cols` x `rows`, with `env` exported. */
  static async start(socket: string, name: string, command: string, env: Record<string, string>, size = { cols: 120, rows: 40 }): Promise<TmuxSession> {
    const exports = Object.entries(env)
      .map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}';`)
      .join(' ');
    // The command's status is printed after it and the shell then waits, so the pane (and the status) stay readable.
    const line = `${exports} ${command}; echo "[exit $?]"; sleep 600`;
    await run('tmux', ['-S', socket, 'new-session', '-d', '-s', name, '-x', String(size.cols), '-y', String(size.rows), line]);
    return new TmuxSession(socket, name);
  }

  /** Types text; `keys` are tmux key names such as 'Enter' or 'C-p'. */
  async send(...keys: string[]): Promise<void> {
    await run('tmux', ['-S', this.socket, 'send-keys', '-t', this.name, ...keys]);
  }

  async sendText(text: string): Promise<void> {
    await run('tmux', ['-S', this.socket, 'send-keys', '-t', this.name, '-l', text]);
  }

  async screen(): Promise<string> {
    const r = await run('tmux', ['-S', this.socket, 'capture-pane', '-p', '-t', this.name]);
    return r.stdout;
  }

  async resize(cols: number, rows: number): Promise<void> {
    await run('tmux', ['-S', this.socket, 'resize-window', '-t', this.name, '-x', String(cols), '-y', String(rows)]);
  }

  /** The command's exit status once it has ended, else undefined. */
  async exitStatus(): Promise<number | undefined> {
    const m = /^\[exit (\d+)\]\s*$/m.exec(await this.screen());
    return m ? Number(m[1]) : undefined;
  }

  /** Polls the screen until `pattern` shows (or fails after `timeoutMs`). */
  async waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      last = await this.screen();
      if (pattern.test(last)) return last;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${pattern} on the screen:\n${last}`);
  }

  async waitForExit(timeoutMs = 15_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const s = await this.exitStatus();
      if (s !== undefined) return s;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the command in tmux session ${this.name} did not end:\n${await this.screen()}`);
  }

  async kill(): Promise<void> {
    await run('tmux', ['-S', this.socket, 'kill-session', '-t', this.name]).catch(() => undefined);
  }

  /** Ends the tmux server of this socket (every session on it). */
  static async killServer(socket: string): Promise<void> {
    await run('tmux', ['-S', socket, 'kill-server']).catch(() => undefined);
  }
}
