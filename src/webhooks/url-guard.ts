import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { promises as dns } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

// What a webhook may not reach: the blocks of the IANA special-purpose registries (RFC 6890 and
// updates) that are not globally reachable, and those that embed or translate to an IPv4 address.
const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network", and 0.0.0.0
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata at 169.254.169.254
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the broadcast address
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 96], // unspecified, loopback and the deprecated IPv4-compatible ::a.b.c.d
  ['::ffff:0:0:0', 96], // IPv4-translated (SIIT)
  ['64:ff9b::', 96], // NAT64, well-known prefix
  ['64:ff9b:1::', 48], // NAT64, local use
  ['100::', 64], // discard-only
  ['2001::', 32], // Teredo
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated, still routed by some networks)
  ['ff00::', 8], // multicast
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv6');
}

/**
 * True for an address a webhook may not reach (see BLOCKED) or that is not an address. BlockList
 * checks an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, `::ffff:7f00:1`) against the IPv4 rules.
 */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  return BLOCKED.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** The reason a URL is refused before any lookup (scheme, shape), or null. */
export function urlShapeProblem(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'The URL is not valid';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'The URL must use http or https';
  if (url.username || url.password) return 'The URL must not carry credentials';
  return null;
}

/** The host of a URL as a name or an address (IPv6 without brackets). */
export function hostOf(raw: string): string {
  return new URL(raw).hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * The refusal of a name, the same whether it resolves to a private address or not at all: the
 * answer names the host the caller gave and never an address, so it tells nothing of internal DNS.
 */
const notPublicName = (host: string) => `${host} does not resolve to a public address`;

/**
 * Refuses (with a message for a 400) a URL whose host is, or resolves to, an address that is not
 * public, unless `allowPrivate`. Checked at create and update; the sender checks again at connect time.
 */
export async function urlRefusal(raw: string, allowPrivate: boolean): Promise<string | null> {
  const shape = urlShapeProblem(raw);
  if (shape || allowPrivate) return shape;
  const host = hostOf(raw);
  if (isIP(host)) return isBlockedAddress(host) ? `The URL's host ${host} is not a public address` : null;
  const addresses = await dns.lookup(host, { all: true, verbatim: true }).catch(() => [] as LookupAddress[]);
  return addresses.length === 0 || addresses.some((a) => isBlockedAddress(a.address)) ? `The URL's host ${notPublicName(host)}` : null;
}

export class BlockedAddressError extends Error {
  readonly code = 'EWEBHOOKBLOCKED';
}

/**
 * A `lookup` for http(s).request that refuses non-public addresses after resolution, so the address
 * checked is the address connected to (no window for DNS rebinding between check and connect).
 */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err || addresses.length === 0 || addresses.some((a) => isBlockedAddress(a.address))) {
      return callback(new BlockedAddressError(notPublicName(hostname)), '', 0);
    }
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    callback(null, addresses[0].address, addresses[0].family);
  });
};
