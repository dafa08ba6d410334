// Where webhooks may go (README "Webhook targets"): not to loopback, link-local (cloud metadata
// at 169.254.169.254 included), private (RFC 1918, CGNAT, ULA), unspecified, multicast or other
// special-purpose addresses, unless `VIGIL_WEBHOOK_ALLOW_PRIVATE=1` (local development, tests).
// Checked when a subscription is written (literal addresses and what a name resolves to) and again
// on every connection, on the address actually connected to (DNS rebinding).
import dns from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // RFC 1918
  ['100.64.0.0', 10], // CGNAT (also Alibaba's metadata 100.100.100.200)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12], // RFC 1918
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // RFC 1918
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const)
  blocked.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // ULA (also AWS's metadata fd00:ec2::254)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const)
  blocked.addSubnet(net, bits, 'ipv6');

/** Names that are metadata services whatever they resolve to. */
const BLOCKED_NAMES = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
]);

/** The IPv4 address embedded in an IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible or NAT64 (64:ff9b::/96) IPv6 address. */
function embeddedIpv4(ip: string): string | undefined {
  const m = /^(?:::ffff:(?:0:)?|::|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(ip) ?? undefined;
  if (m) {
    const hi = parseInt(m[1]!, 16);
    const lo = parseInt(m[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  const d = /^(?:::ffff:(?:0:)?|::|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return d?.[1];
}

/** Whether a literal IP address is one webhooks may not reach by default. */
export function isBlockedAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return blocked.check(ip, 'ipv4');
  if (family === 6) {
    const v4 = embeddedIpv4(ip);
    if (v4 !== undefined && isIP(v4) === 4 && blocked.check(v4, 'ipv4')) return true;
    return blocked.check(ip, 'ipv6');
  }
  return true; // not an address at all: refuse
}

/** What a refused target is told (no addresses: they are internal detail). */
export const REFUSED_TARGET =
  'target refused: it is or resolves to a loopback, private, link-local or otherwise internal address';

export class RefusedTargetError extends Error {
  override name = 'RefusedTargetError';
  constructor() {
    super(REFUSED_TARGET);
  }
}

/** The URL's host without IPv6 brackets, lower-cased, without a trailing dot. */
export function hostOf(url: URL): string {
  return url.hostname
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.$/, '');
}

export type Resolve = (host: string) => Promise<string[]>;
const systemResolve: Resolve = async (host) =>
  (await dns.promises.lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * Why a webhook URL's target is refused (undefined = fine). A literal address is checked as is; a
 * name by every address it resolves to now. A name that does not resolve now is accepted: delivery
 * checks again on each connection.
 */
export async function refusedTarget(
  url: URL,
  o: { allowPrivate: boolean; resolve?: Resolve },
): Promise<string | undefined> {
  if (o.allowPrivate) return undefined;
  const host = hostOf(url);
  if (BLOCKED_NAMES.has(host)) return REFUSED_TARGET;
  if (isIP(host)) return isBlockedAddress(host) ? REFUSED_TARGET : undefined;
  let addresses: string[];
  try {
    addresses = await (o.resolve ?? systemResolve)(host);
  } catch {
    return undefined;
  }
  return addresses.some(isBlockedAddress) ? REFUSED_TARGET : undefined;
}

/**
 * A `lookup` for http(s).request/net.connect that resolves as usual and fails with
 * RefusedTargetError when any resolved address is blocked, so the socket only ever connects to a
 * checked address (there is no second resolution between check and connect).
 */
export function guardedLookup(o: { allowPrivate: boolean }): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      const cb = callback;
      if (err) return cb(err, []);
      const list = addresses;
      if (
        !o.allowPrivate &&
        (BLOCKED_NAMES.has(hostname.toLowerCase()) ||
          list.length === 0 ||
          list.some((a) => isBlockedAddress(a.address)))
      ) {
        return cb(new RefusedTargetError(), []);
      }
      if (options.all) return cb(null, list);
      cb(null, list[0]!.address, list[0]!.family);
    });
  };
}
