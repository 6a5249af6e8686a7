/**
 * TESSERA_LEGACY_ASSERTION_AUDIENCE_UNTIL: until this ISO 8601 date, private_key_jwt assertions
 * may still name the token endpoint URL; unset by default (only the issuer, rfc7523bis).
 */
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/config.js";

const BASE = { TESSERA_DATA_DIR: "/tmp/tessera-config-test" };

describe("TESSERA_LEGACY_ASSERTION_AUDIENCE_UNTIL", () => {
  it("is unset by default", () => {
    expect(loadConfig(BASE).legacyAssertionAudienceUntil).toBeUndefined();
  });

  it("reads a date or a date-time", () => {
    expect(loadConfig({ ...BASE, TESSERA_LEGACY_ASSERTION_AUDIENCE_UNTIL: "2027-03-31" }).legacyAssertionAudienceUntil).toEqual(new Date("2027-03-31T00:00:00Z"));
    expect(loadConfig({ ...BASE, TESSERA_LEGACY_ASSERTION_AUDIENCE_UNTIL: "2027-03-31T12:00:00Z" }).legacyAssertionAudienceUntil).toEqual(new Date("2027-03-31T12:00:00Z"));
  });

  it.each(["never", "31/03/2027", "2027-13-45", "1700000000"])("refuses %j, naming the variable", (value) => {
    expect(() => loadConfig({ ...BASE, TESSERA_LEGACY_ASSERTION_AUDIENCE_UNTIL: value })).toThrow(/TESSERA_LEGACY_ASSERTION_AUDIENCE_UNTIL/);
    expect(() => loadConfig({ ...BASE, TESSERA_LEGACY_ASSERTION_AUDIENCE_UNTIL: value })).toThrow(ConfigError);
  });
});
