import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { promises as dns } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

// Loopback, private, link-local (cloud metadata at 169.254.169.254), unspecified and other non-public ranges.
const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96]] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv6');
}

/** True for an address a webhook may not reach: loopback, private, link-local, unspecified, multicast. */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return BLOCKED.check(address, 'ipv4');
  if (family !== 6) return true;
  // An IPv4-mapped IPv6 address (::ffff:10.0.0.1) reaches the IPv4 address.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return BLOCKED.check(mapped[1], 'ipv4');
  return BLOCKED.check(address, 'ipv6');
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
 * Refuses (with a message for a 400) a URL whose host is, or resolves to, an address that is not
 * public, unless `allowPrivate`. Checked at create and update; the sender checks again at connect time.
 */
export async function urlRefusal(raw: string, allowPrivate: boolean): Promise<string | null> {
  const shape = urlShapeProblem(raw);
  if (shape || allowPrivate) return shape;
  const host = hostOf(raw);
  if (isIP(host)) return isBlockedAddress(host) ? `The URL's host ${host} is not a public address` : null;
  let addresses: LookupAddress[];
  try {
    addresses = await dns.lookup(host, { all: true, verbatim: true });
  } catch {
    return `The URL's host ${host} does not resolve`;
  }
  const blocked = addresses.find((a) => isBlockedAddress(a.address));
  return blocked ? `The URL's host ${host} resolves to ${blocked.address}, which is not a public address` : null;
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
    if (err) return callback(err, '', 0);
    const blocked = addresses.find((a) => isBlockedAddress(a.address));
    if (blocked) return callback(new BlockedAddressError(`${hostname} resolves to ${blocked.address}, which is not a public address`), '', 0);
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    callback(null, addresses[0].address, addresses[0].family);
  });
};
