/**
 * `login` and `logout`: credentials are checked by the daemon (POST /auth) and kept in the docker
 * config file, where pull and push find them for the X-Registry-Auth header.
 */
import type { Command } from 'commander';
import { invalidArgument } from '../../errors.js';
import type { RegistryAuth } from '../api-client.js';
import { readAll, readLine, type CliContext } from '../context.js';
import { INDEX_SERVER, convertToHostname } from '../docker-config.js';
import type { ContextProvider } from './images.js';

interface LoginOptions {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
}

/** The config key for a login target: docker hub's index URL, else the bare host[:port]. */
export function loginServerKey(server: string | undefined): string {
  if (!server || server === 'docker.io' || server === 'index.docker.io' || server === INDEX_SERVER) return INDEX_SERVER;
  return convertToHostname(server);
}

async function promptHidden(ctx: CliContext, label: string): Promise<string> {
  ctx.out(label);
  const stdin = ctx.io.stdin;
  const raw = stdin.isTTY && stdin.setRawMode;
  if (!raw) return (await readLine(stdin)) ?? '';
  // turn echo off while the password is typed
  stdin.setRawMode!(true);
  try {
    let value = '';
    for (;;) {
      const chunk = await new Promise<Buffer>((resolve) => stdin.once('data', (c: Buffer) => resolve(c)));
      const s = chunk.toString('utf8');
      if (s === '\u0003') throw invalidArgument('interrupted');
      if (s.includes('\r') || s.includes('\n')) {
        value += s.split(/[\r\n]/)[0];
        break;
      }
      if (s === '\u007f') value = value.slice(0, -1);
      else value += s;
    }
    return value;
  } finally {
    stdin.setRawMode!(false);
    stdin.pause();
    ctx.out('\n');
  }
}

async function runLogin(ctx: CliContext, server: string | undefined, opts: LoginOptions): Promise<void> {
  let { username, password } = opts;
  if (opts.password !== undefined) {
    ctx.err('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    if (opts.passwordStdin) throw invalidArgument('--password and --password-stdin are mutually exclusive');
  }
  if (opts.passwordStdin) {
    if (!username) throw invalidArgument('Must provide --username with --password-stdin');
    password = (await readAll(ctx.io.stdin)).replace(/\n$/, '').replace(/\r$/, '');
  }
  const key = loginServerKey(server);
  if (username === undefined && password === undefined) {
    const stored = ctx.config.getAuth(key);
    if (stored.username && (stored.password || stored.identitytoken)) {
      username = stored.username;
      password = stored.password;
    }
  }
  if (!username || password === undefined) {
    if (!ctx.io.stdin.isTTY) throw invalidArgument('Error: Cannot perform an interactive login from a non TTY device');
    if (!username) {
      ctx.out('Username: ');
      username = ((await readLine(ctx.io.stdin)) ?? '').trim();
      if (!username) throw invalidArgument('Error: Non-null Username Required');
    }
    password = await promptHidden(ctx, 'Password: ');
    if (!password) throw invalidArgument('Error: Password Required');
  }
  const auth: RegistryAuth = { username, password, serveraddress: key };
  const res = await ctx.client.postJson<{ Status?: string; IdentityToken?: string }>('/auth', { json: auth });
  if (res?.IdentityToken) auth.identitytoken = res.IdentityToken;
  ctx.config.setAuth(key, auth);
  ctx.config.save();
  ctx.err(
    `WARNING! Your credentials are stored unencrypted in '${ctx.config.file}'.\n` +
      'Configure a credential helper to remove this warning. See\n' +
      'https://docs.docker.com/go/credential-store/\n\n',
  );
  ctx.out(`${res?.Status || 'Login Succeeded'}\n`);
}

function runLogout(ctx: CliContext, server: string | undefined): void {
  const key = loginServerKey(server);
  const candidates = key === INDEX_SERVER ? [INDEX_SERVER] : [server ?? key, key, `http://${key}`, `https://${key}`];
  let removed = false;
  for (const k of new Set(candidates)) if (ctx.config.removeAuth(k)) removed = true;
  if (!removed) {
    ctx.out(`Not logged in to ${key}\n`);
    return;
  }
  ctx.out(`Removing login credentials for ${key}\n`);
  ctx.config.save();
}

export function registerAuthCommands(program: Command, context: ContextProvider): void {
  program
    .command('login')
    .description('Authenticate to a registry (Docker Hub if no server is given)')
    .argument('[SERVER]')
    .option('-p, --password <string>', 'Password or Personal Access Token (PAT)')
    .option('--password-stdin', 'Take the Password or Personal Access Token (PAT) from stdin')
    .option('-u, --username <string>', 'Username')
    .action(async (server: string | undefined, opts: LoginOptions) => runLogin(context(), server, opts));
  program
    .command('logout')
    .description('Log out from a registry')
    .argument('[SERVER]')
    .action((server: string | undefined) => runLogout(context(), server));
}
