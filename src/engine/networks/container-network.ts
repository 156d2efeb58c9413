/** The bridge between a container's document and the network service: what it asks for, what it shows when stopped. */
import type { ContainerDoc } from '../containers/types.js';
import type { ContainerNetInput } from './network-service.js';
import { parseLink } from './network-service.js';
import { macFromIp } from './ipam.js';
import type { PortBindings } from './port-specs.js';
import { emptyNetworkSettings, type NetworkSettings } from './types.js';

export function containerNetInput(id: string, name: string, doc: ContainerDoc): ContainerNetInput {
  const hc = doc.HostConfig;
  const settings: Partial<NetworkSettings> = doc.NetworkSettings;
  return {
    id,
    name,
    hostname: doc.Config.Hostname,
    domainname: doc.Config.Domainname,
    networkMode: hc.NetworkMode ?? 'bridge',
    networks: { ...(settings.Networks ?? {}) },
    links: (hc.Links as string[] | null | undefined) ?? [],
    portBindings: hc.PortBindings as PortBindings | null | undefined,
    exposedPorts: doc.Config.ExposedPorts,
    publishAll: hc.PublishAllPorts === true,
    macAddress: ((doc.Config as unknown as { MacAddress?: string }).MacAddress) || undefined,
    extraHosts: hc.ExtraHosts ?? [],
    dns: hc.Dns ?? [],
    dnsSearch: hc.DnsSearch ?? [],
    dnsOptions: hc.DnsOptions ?? [],
  };
}

/** Docker stores links as '/target:/container/alias'; the target must exist at create. */
export function linksForCreate(links: readonly string[], containerName: string, resolveName: (ref: string) => string): string[] | null {
  if (links.length === 0) return null;
  return links.map((l) => {
    const { target, alias } = parseLink(l);
    return `/${resolveName(target)}:/${containerName}/${alias}`;
  });
}

/** A stopped container keeps its configured networks but no addresses, endpoint, sandbox or published ports. */
export function stoppedNetworkSettings(s: Partial<NetworkSettings> | undefined): NetworkSettings {
  const out = emptyNetworkSettings();
  for (const [name, ep] of Object.entries(s?.Networks ?? {})) {
    out.Networks[name] = {
      ...ep,
      EndpointID: '',
      Gateway: '',
      IPAddress: '',
      IPPrefixLen: 0,
      // A MAC the user chose stays; one derived from the address goes with the address.
      MacAddress: ep.MacAddress && ep.IPAddress && ep.MacAddress !== macFromIp(ep.IPAddress) ? ep.MacAddress : '',
      DNSNames: null,
    };
  }
  return out;
}
