/**
 * The caller's address, for rate limits and the failed-authentication backoff: the TCP peer,
 * unless the peer is a proxy the operator trusts (TESSERA_TRUSTED_PROXIES), in which case the
 * `X-Forwarded-For` chain it appended to is believed, right to left, up to the first address
 * that is not itself a trusted proxy. Each proxy appends the address it saw, so everything to
 * the right of that address was written by trusted hands and everything to its left by the
 * caller, who may write anything. From an untrusted peer the header is ignored: no caller can
 * choose the address it is throttled as. One function for the HTTP gateway and the RPC services.
 */
import { BlockList, isIP } from "node:net";
import { UNKNOWN_ORIGIN, type RequestOrigin } from "../oauth/abuse-limits.js";

/** An address range in CIDR notation, parsed. */
export interface IpSubnet {
  readonly address: string;
  readonly prefix: number;
  readonly family: "ipv4" | "ipv6";
}

export type TrustedProxySubnet = IpSubnet;

/** What a request needs to have for its address to be read: Node's HTTP/1.1 and HTTP/2 requests both fit. */
export interface AddressedRequest {
  readonly socket?: { readonly remoteAddress?: string | undefined } | null | undefined;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** More hops than any real proxy chain; the walk stops there rather than scan a header's worth of entries. */
const MAX_FORWARDED_HOPS = 16;

/** A function from a request to its caller's address, believing the given proxies. */
export function clientAddressResolver(trustedProxies: readonly TrustedProxySubnet[]): (request: AddressedRequest) => RequestOrigin {
  if (trustedProxies.length === 0) {
    // The peer's address is the connection's: read and canonicalized once per connection, not
    // per request. Held weakly, so a closed connection's entry goes with it.
    const byConnection = new WeakMap<object, RequestOrigin>();
    return (request) => {
      const socket = request.socket;
      if (!socket) return UNKNOWN_ORIGIN;
      let origin = byConnection.get(socket);
      if (origin === undefined) {
        const ip = canonicalAddress(socket.remoteAddress);
        // A socket closed before it was read has no address yet: not remembered.
        if (ip === undefined) return UNKNOWN_ORIGIN;
        origin = { ip };
        byConnection.set(socket, origin);
      }
      return origin;
    };
  }
  const isTrusted = trustedProxyMatcher(trustedProxies);
  return (request) => {
    const peer = canonicalAddress(request.socket?.remoteAddress);
    if (peer === undefined) return { ip: "unknown" };
    if (!isTrusted(peer)) return { ip: peer };
    const hops = forwardedFor(request.headers["x-forwarded-for"]);
    let address = peer;
    for (let index = hops.length - 1; index >= 0 && hops.length - index <= MAX_FORWARDED_HOPS; index--) {
      const hop = canonicalAddress(hops[index]);
      // A malformed entry was written by the hop before a trusted proxy, i.e. by the caller: the
      // last trusted proxy is the best address known.
      if (hop === undefined) return { ip: address };
      address = hop;
      if (!isTrusted(hop)) return { ip: hop };
    }
    return { ip: address };
  };
}

/** Whether an address (in canonical spelling) is one of the trusted proxies. */
export function trustedProxyMatcher(trustedProxies: readonly TrustedProxySubnet[]): (address: string) => boolean {
  if (trustedProxies.length === 0) return () => false;
  const trusted = new BlockList();
  for (const subnet of trustedProxies) trusted.addSubnet(subnet.address, subnet.prefix, subnet.family);
  return (address) => {
    const family = isIP(address);
    return family !== 0 && trusted.check(address, family === 6 ? "ipv6" : "ipv4");
  };
}

/** The entries of every X-Forwarded-For header, in order (repeated headers joined, RFC 9110 §5.3). */
function forwardedFor(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  return (Array.isArray(header) ? header.join(",") : header).split(",");
}

/**
 * An IP address in one spelling per address: IPv4-mapped IPv6 as IPv4, IPv6 in lower case,
 * brackets and a port (which some proxies add) dropped. undefined for anything else.
 */
export function canonicalAddress(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let text = raw.trim();
  if (text.length > 64) return undefined;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed) text = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(text)) text = text.slice(0, text.indexOf(":"));
  const family = isIP(text);
  if (family === 4) return text;
  if (family !== 6) return undefined;
  const lower = text.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  return mapped ? mapped[1] : lower;
}
