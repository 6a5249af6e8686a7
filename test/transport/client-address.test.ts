/**
 * The caller's address (src/transport/client-address.ts): the peer, or — from a trusted proxy —
 * the right-most X-Forwarded-For entry that is not itself a trusted proxy.
 */
import { describe, expect, it } from "vitest";
import { canonicalAddress, clientAddressResolver } from "../../src/transport/client-address.js";

const request = (peer: string | undefined, forwardedFor?: string | string[]) => ({
  socket: { remoteAddress: peer },
  headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor },
});

describe("clientAddressResolver", () => {
  const behindProxies = clientAddressResolver([
    { address: "10.0.0.0", prefix: 8, family: "ipv4" },
    { address: "fd00::", prefix: 8, family: "ipv6" },
  ]);

  it("is the peer when no proxy is trusted, whatever the headers say", () => {
    const direct = clientAddressResolver([]);
    expect(direct(request("192.0.2.1", "203.0.113.5"))).toEqual({ ip: "192.0.2.1" });
    expect(direct(request("::ffff:192.0.2.1"))).toEqual({ ip: "192.0.2.1" });
    expect(direct(request(undefined))).toEqual({ ip: "unknown" });
  });

  it("ignores X-Forwarded-For from a peer outside the trusted ranges", () => {
    expect(behindProxies(request("192.0.2.1", "203.0.113.5"))).toEqual({ ip: "192.0.2.1" });
  });

  it("takes the right-most address that is not a trusted proxy, over IPv4, IPv6 and repeated headers", () => {
    expect(behindProxies(request("10.1.2.3", "198.51.100.1, 203.0.113.5"))).toEqual({ ip: "203.0.113.5" });
    expect(behindProxies(request("::ffff:10.1.2.3", "203.0.113.5, 10.9.9.9"))).toEqual({ ip: "203.0.113.5" });
    expect(behindProxies(request("fd00::1", ["198.51.100.1", "2001:DB8::7, fd00::2"]))).toEqual({ ip: "2001:db8::7" });
    expect(behindProxies(request("10.1.2.3", "[2001:db8::8]:4711"))).toEqual({ ip: "2001:db8::8" });
    expect(behindProxies(request("10.1.2.3", "203.0.113.6:4711"))).toEqual({ ip: "203.0.113.6" });
  });

  it("stops at the last trusted proxy when the entry before it is not an address, or there is none", () => {
    expect(behindProxies(request("10.1.2.3", "203.0.113.5, junk, 10.4.4.4"))).toEqual({ ip: "10.4.4.4" });
    expect(behindProxies(request("10.1.2.3"))).toEqual({ ip: "10.1.2.3" });
    expect(behindProxies(request("10.1.2.3", "x".repeat(10_000)))).toEqual({ ip: "10.1.2.3" });
    expect(behindProxies(request("10.1.2.3", "10.0.0.1, 10.0.0.2"))).toEqual({ ip: "10.0.0.1" });
  });
});

describe("canonicalAddress", () => {
  it("spells each address one way and refuses anything else", () => {
    expect(canonicalAddress(" 192.0.2.1 ")).toBe("192.0.2.1");
    expect(canonicalAddress("::FFFF:192.0.2.1")).toBe("192.0.2.1");
    expect(canonicalAddress("2001:DB8::1")).toBe("2001:db8::1");
    for (const junk of ["", "unknown", "192.0.2.256", "a".repeat(100), "1.2.3.4:5:6", "[::1"]) expect(canonicalAddress(junk)).toBeUndefined();
  });
});
