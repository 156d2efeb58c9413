/**
 * Method + path routing with moby's pattern syntax: `{id}` matches one path segment, `{name:.*}` a
 * regular expression (used for image names, which contain slashes). Paths here are already stripped
 * of their `/vX.Y` prefix and percent-decoded, as gorilla/mux sees them in moby.
 */
import type { Handler } from './context.js';

export type { Handler } from './context.js';

export interface RouteMatch {
  handler: Handler;
  params: Record<string, string>;
  /** The pattern the route was declared with, for logs. */
  pattern: string;
}

interface CompiledRoute {
  method: string;
  pattern: string;
  regex: RegExp;
  names: string[];
  handler: Handler;
}

const PARAM_RE = /\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]*))?\}/g;

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function compilePattern(pattern: string): { regex: RegExp; names: string[] } {
  if (!pattern.startsWith('/')) throw new Error(`route pattern must start with '/': ${pattern}`);
  const names: string[] = [];
  let source = '^';
  let last = 0;
  for (const m of pattern.matchAll(PARAM_RE)) {
    const [whole, name, expr] = m;
    if (!name) continue;
    source += escapeRegex(pattern.slice(last, m.index));
    // A capturing group inside a custom expression would shift our group numbers.
    source += expr === undefined ? '([^/]+)' : `(${expr.replace(/\((?!\?)/g, '(?:')})`;
    names.push(name);
    last = (m.index ?? 0) + whole.length;
  }
  source += escapeRegex(pattern.slice(last)) + '$';
  return { regex: new RegExp(source), names };
}

export class Router {
  /** Literal routes by "METHOD path": they win over patterns, so `/images/json` never reads as a name. */
  private readonly literal = new Map<string, CompiledRoute>();
  private readonly patterned: CompiledRoute[] = [];

  add(method: string, pattern: string, handler: Handler): void {
    const upper = method.toUpperCase();
    const { regex, names } = compilePattern(pattern);
    const route: CompiledRoute = { method: upper, pattern, regex, names, handler };
    if (names.length === 0) {
      const key = `${upper} ${pattern}`;
      if (this.literal.has(key)) throw new Error(`route declared twice: ${key}`);
      this.literal.set(key, route);
    } else {
      this.patterned.push(route);
    }
  }

  get(pattern: string, handler: Handler): void {
    this.add('GET', pattern, handler);
  }
  head(pattern: string, handler: Handler): void {
    this.add('HEAD', pattern, handler);
  }
  post(pattern: string, handler: Handler): void {
    this.add('POST', pattern, handler);
  }
  put(pattern: string, handler: Handler): void {
    this.add('PUT', pattern, handler);
  }
  delete(pattern: string, handler: Handler): void {
    this.add('DELETE', pattern, handler);
  }

  /** The route for a request; HEAD falls back to GET (Node drops the body of a HEAD response). */
  match(method: string, path: string): RouteMatch | undefined {
    const upper = method.toUpperCase();
    return this.matchExact(upper, path) ?? (upper === 'HEAD' ? this.matchExact('GET', path) : undefined);
  }

  private matchExact(method: string, path: string): RouteMatch | undefined {
    const literal = this.literal.get(`${method} ${path}`);
    if (literal) return { handler: literal.handler, params: {}, pattern: literal.pattern };
    for (const route of this.patterned) {
      if (route.method !== method) continue;
      const m = route.regex.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      let empty = false;
      route.names.forEach((name, i) => {
        const value = m[i + 1] ?? '';
        if (value === '') empty = true;
        params[name] = value;
      });
      if (empty) continue;
      return { handler: route.handler, params, pattern: route.pattern };
    }
    return undefined;
  }
}
