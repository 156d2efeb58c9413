import type { ContainerRow } from '../../store/container-records.js';
import { humanDuration } from '../../util/human-duration.js';
import type { ContainerDoc } from './types.js';
import { publishedFromView, summaryPorts } from '../networks/port-specs.js';

/** GET /containers/json item. */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  Created: number;
  Ports: unknown[];
  Labels: Record<string, string>;
  State: string;
  Status: string;
  HostConfig: { NetworkMode: string };
  NetworkSettings: { Networks: Record<string, unknown> };
  Mounts: unknown[];
}

/** Docker's human status: "Up 3 seconds", "Exited (0) 2 minutes ago", "Created". */
export function statusText(doc: ContainerDoc, now = Date.now()): string {
  const s = doc.State;
  if (s.Running) {
    const up = `Up ${humanDuration(now - Date.parse(s.StartedAt))}`;
    if (s.Paused) return `${up} (Paused)`;
    if (s.Health) return `${up} (${s.Health.Status === 'starting' ? 'health: starting' : s.Health.Status})`;
    return up;
  }
  if (s.Status === 'exited' || (s.FinishedAt && !s.FinishedAt.startsWith('0001'))) {
    return `Exited (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
  }
  if (s.Status === 'removing') return 'Removal In Progress';
  if (s.Dead) return 'Dead';
  return 'Created';
}

/** The COMMAND column: like Docker, arguments with a space are wrapped in single quotes (the path is not). */
export function commandText(path: string, args: readonly string[]): string {
  return [path, ...args.map((a) => (a.includes(' ') ? `'${a}'` : a))].join(' ');
}

export function summaryOf(row: ContainerRow<ContainerDoc>): ContainerSummary {
  const doc = row.doc;
  return {
    Id: row.id,
    Names: [doc.Name],
    Image: doc.Config.Image,
    ImageID: doc.Image,
    Command: commandText(doc.Path, doc.Args),
    Created: Math.floor(Date.parse(doc.Created) / 1000),
    Ports: summaryPorts(Object.keys(doc.Config.ExposedPorts ?? {}), publishedFromView(doc.NetworkSettings?.Ports)),
    Labels: doc.Config.Labels ?? {},
    State: doc.State.Status,
    Status: statusText(doc),
    HostConfig: { NetworkMode: doc.HostConfig.NetworkMode ?? 'bridge' },
    NetworkSettings: { Networks: doc.NetworkSettings?.Networks ?? {} },
    Mounts: doc.Mounts,
  };
}
