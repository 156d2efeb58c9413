/** The /etc/hosts and /etc/resolv.conf Docker writes for a container, from its network settings. */

export interface HostsInput {
  hostname: string;
  domainname?: string;
  /** The container's own addresses (first network first); none means 127.0.1.1 stands in, as without a network. */
  ips: string[];
  /** Legacy links: the peer's address, its alias, short ID and name. */
  links: Array<{ ip: string; alias: string; id: string; name: string }>;
  /** HostConfig.ExtraHosts, 'name:ip' (host-gateway already resolved). */
  extraHosts: string[];
}

export function hostsFile(input: HostsInput): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', 'fe00::\tip6-localnet', 'ff00::\tip6-mcastprefix',
    'ff02::1\tip6-allnodes', 'ff02::2\tip6-allrouters'];
  for (const h of input.extraHosts) {
    const i = h.indexOf(':');
    if (i > 0) lines.push(`${h.slice(i + 1)}\t${h.slice(0, i)}`);
  }
  for (const l of input.links) {
    const names = [...new Set([l.alias, l.id.slice(0, 12), l.name])];
    lines.push(`${l.ip}\t${names.join(' ')}`);
  }
  const fqdn = input.domainname ? `${input.hostname}.${input.domainname} ${input.hostname}` : input.hostname;
  if (input.ips.length === 0) lines.push(`127.0.1.1\t${fqdn}`);
  for (const ip of input.ips) lines.push(`${ip}\t${fqdn}`);
  return lines.join('\n') + '\n';
}

/** `host-gateway` in --add-host means the default bridge's gateway, as in Docker. */
export function resolveExtraHosts(extra: readonly string[], hostGateway: string | undefined): string[] {
  return extra.map((h) => {
    const i = h.indexOf(':');
    if (i > 0 && h.slice(i + 1) === 'host-gateway' && hostGateway) return `${h.slice(0, i)}:${hostGateway}`;
    return h;
  });
}

export interface ParsedResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

export function parseResolvConf(text: string): ParsedResolvConf {
  const out: ParsedResolvConf = { nameservers: [], search: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0]) out.nameservers.push(rest[0]);
    else if (key === 'search' || key === 'domain') out.search = rest;
    else if (key === 'options') out.options.push(...rest);
  }
  return out;
}

export interface ResolvInput {
  /** The host's /etc/resolv.conf text. */
  host: string;
  /** On a user network: the embedded DNS server's address (the network's gateway). */
  embeddedDns?: string;
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
}

/**
 * Docker's rules: --dns/--dns-search/--dns-option replace the host's values; on a user network the embedded
 * server answers (and forwards the rest); on the default bridge the host's nameservers minus loopback ones, which a
 * container cannot reach, with Google's as the fallback.
 */
export function resolvConf(input: ResolvInput): string {
  const host = parseResolvConf(input.host);
  let nameservers: string[];
  if (input.dns.length) nameservers = input.dns;
  else if (input.embeddedDns) nameservers = [input.embeddedDns];
  else {
    nameservers = host.nameservers.filter((n) => !n.startsWith('127.') && n !== '::1');
    if (nameservers.length === 0) nameservers = ['8.8.8.8', '8.8.4.4'];
  }
  const search = input.dnsSearch.length ? input.dnsSearch.filter((s) => s !== '.') : host.search;
  const options = input.dnsOptions.length ? input.dnsOptions : host.options;
  const lines = nameservers.map((n) => `nameserver ${n}`);
  if (search.length) lines.push(`search ${search.join(' ')}`);
  if (options.length) lines.push(`options ${options.join(' ')}`);
  return lines.join('\n') + '\n';
}
