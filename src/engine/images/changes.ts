import { invalidArgument } from '../../errors.js';

/** The image config fields `import --change` and `commit --change` may set. */
export interface ConfigChanges {
  Cmd?: string[];
  Entrypoint?: string[];
  Env?: string[];
  ExposedPorts?: Record<string, Record<string, never>>;
  Labels?: Record<string, string>;
  User?: string;
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  StopSignal?: string;
}

function argv(rest: string): string[] {
  const t = rest.trim();
  if (t.startsWith('[')) {
    try {
      const v: unknown = JSON.parse(t);
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
    } catch {
      /* falls through to shell form, as Docker does */
    }
  }
  return ['/bin/sh', '-c', t];
}

function pairs(rest: string): Array<[string, string]> {
  const t = rest.trim();
  if (!t.includes('=')) {
    const sp = t.search(/\s/);
    if (sp < 0) throw invalidArgument(`ENV/LABEL needs a value: ${rest}`);
    return [[t.slice(0, sp), t.slice(sp).trim()]];
  }
  const out: Array<[string, string]> = [];
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (const m of t.matchAll(re)) {
    let v = m[2];
    if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    else if (v.startsWith("'")) v = v.slice(1, -1);
    out.push([m[1], v]);
  }
  return out;
}

/** Applies Dockerfile-style change lines (`CMD ["sh"]`, `ENV A=b`, `EXPOSE 80/tcp`, ...) to a container config. */
export function applyChanges(base: Record<string, unknown>, changes: string[]): Record<string, unknown> {
  const cfg: Record<string, unknown> = { ...base };
  for (const line of changes) {
    const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(line);
    if (!m) throw invalidArgument(`invalid change: ${JSON.stringify(line)}`);
    const [, instr, rest] = m;
    switch (instr.toUpperCase()) {
      case 'CMD':
        cfg.Cmd = argv(rest);
        break;
      case 'ENTRYPOINT':
        cfg.Entrypoint = argv(rest);
        break;
      case 'ENV': {
        const env = [...((cfg.Env as string[] | undefined) ?? [])];
        for (const [k, v] of pairs(rest)) {
          const i = env.findIndex((e) => e.split('=')[0] === k);
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        cfg.Env = env;
        break;
      }
      case 'LABEL': {
        const labels = { ...((cfg.Labels as Record<string, string> | undefined) ?? {}) };
        for (const [k, v] of pairs(rest)) labels[k] = v;
        cfg.Labels = labels;
        break;
      }
      case 'EXPOSE': {
        const ports = { ...((cfg.ExposedPorts as Record<string, object> | undefined) ?? {}) };
        for (const p of rest.trim().split(/\s+/)) ports[p.includes('/') ? p : `${p}/tcp`] = {};
        cfg.ExposedPorts = ports;
        break;
      }
      case 'VOLUME': {
        const vols = { ...((cfg.Volumes as Record<string, object> | undefined) ?? {}) };
        const list = rest.trim().startsWith('[') ? (JSON.parse(rest) as string[]) : rest.trim().split(/\s+/);
        for (const v of list) vols[v] = {};
        cfg.Volumes = vols;
        break;
      }
      case 'USER':
        cfg.User = rest.trim();
        break;
      case 'WORKDIR':
        cfg.WorkingDir = rest.trim();
        break;
      case 'STOPSIGNAL':
        cfg.StopSignal = rest.trim();
        break;
      default:
        throw invalidArgument(`${instr} is not a valid change command`);
    }
  }
  return cfg;
}
