import type { CliContext } from '../context.js';
import { PreformattedError, formatCliError } from './images.js';

/** Runs `fn` for each name and prints what it returns; the errors come together at the end (exit 1), as docker's do. */
export async function forEachName(ctx: CliContext, names: readonly string[], fn: (name: string) => Promise<string | undefined>): Promise<void> {
  const errors: string[] = [];
  for (const name of names) {
    try {
      const line = await fn(name);
      if (line !== undefined) ctx.out(line + '\n');
    } catch (e) {
      errors.push(formatCliError(e));
    }
  }
  if (errors.length) throw new PreformattedError(errors.join('\n'));
}
