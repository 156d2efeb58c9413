import { createHash } from 'node:crypto';
import { invalidArgument } from '../../errors.js';

/**
 * Every name and tag the driver puts on kernel objects, in one place, so that `reconcile` recognizes exactly what
 * this daemon instance made and nothing of another's.
 */

export function checkInstance(instance: string): string {
  if (!/^[a-z0-9]{1,8}$/.test(instance)) throw invalidArgument(`network instance tag must be 1-8 chars [a-z0-9]: '${instance}'`);
  return instance;
}

/** ifalias of the bridges this instance owns. */
export const bridgeAlias = (instance: string): string => `berth:${instance}`;

/** ifalias of a host-side veth: the instance and the container it leads to. */
export const vethAlias = (instance: string, containerId: string): string => `berth:${instance}:${containerId}`;

export type AliasOwner =
  | { kind: 'bridge' }
  | { kind: 'veth'; containerId: string }
  | { kind: 'other-instance' }
  | { kind: 'none' };

/** Whom a link's ifalias says it belongs to, seen from `instance`. */
export function aliasOwner(instance: string, alias: string | undefined): AliasOwner {
  if (!alias || !alias.startsWith('berth:')) return { kind: 'none' };
  if (alias === bridgeAlias(instance)) return { kind: 'bridge' };
  const prefix = `berth:${instance}:`;
  if (alias.startsWith(prefix) && alias.length > prefix.length) return { kind: 'veth', containerId: alias.slice(prefix.length) };
  return { kind: 'other-instance' };
}

/** Host side of a container's veth on one network: 'veth' + 7 hex, derived so detach can find it again. */
export function hostVethName(containerId: string, networkId: string): string {
  return `veth${createHash('sha256').update(`${containerId}\0${networkId}`).digest('hex').slice(0, 7)}`;
}

/** nftables table of this instance (family ip). */
export const tableName = (instance: string): string => `berth_${instance}`;

/** Per-network base chains are named by network id so bridge names (which may hold '.' or '-') never need quoting. */
export const netChain = (kind: 'post' | 'fwd', networkId: string): string => `${kind}_${networkId.slice(0, 12)}`;

/** Comment on the accept rules berth puts into a foreign `ip filter` chain (Docker's FORWARD / DOCKER-USER). */
export const filterComment = (instance: string, networkId: string): string => `berth:${instance}:${networkId.slice(0, 12)}`;

/** Where a container's network namespace is bind-mounted. */
export const sandboxDir = (runDir: string): string => `${runDir}/netns`;
export const sandboxPath = (runDir: string, containerId: string): string => `${sandboxDir(runDir)}/${containerId}`;
