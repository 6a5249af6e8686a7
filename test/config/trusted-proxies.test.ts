/**
 * TESSERA_TRUSTED_PROXIES: comma-separated IPv4 and IPv6 CIDRs (a bare address is a range of
 * one), none by default; anything else is a configuration error naming the variable.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/config.js";

const BASE = { TESSERA_DATA_DIR: "/tmp/tessera-config-test" };

describe("TESSERA_TRUSTED_PROXIES", () => {
  it("trusts no proxy by default", () => {
    expect(loadConfig(BASE).trustedProxies).toEqual([]);
  });

  it("reads IPv4 and IPv6 ranges and bare addresses", () => {
    expect(loadConfig({ ...BASE, TESSERA_TRUSTED_PROXIES: "10.0.0.0/8, fd00::/8,192.0.2.7 , ::1" }).trustedProxies).toEqual([
      { address: "10.0.0.0", prefix: 8, family: "ipv4" },
      { address: "fd00::", prefix: 8, family: "ipv6" },
      { address: "192.0.2.7", prefix: 32, family: "ipv4" },
      { address: "::1", prefix: 128, family: "ipv6" },
    ]);
  });

  it.each(["10.0.0.0/33", "fd00::/129", "10.0.0/8", "proxy.internal", "10.0.0.0/8/8", "10.0.0.0/x", "*"])("refuses %j", (value) => {
    expect(() => loadConfig({ ...BASE, TESSERA_TRUSTED_PROXIES: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ...BASE, TESSERA_TRUSTED_PROXIES: value })).toThrow(/TESSERA_TRUSTED_PROXIES/);
  });
});
