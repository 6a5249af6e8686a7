/**
 * TESSERA_TOKEN_EXCHANGE_MAX_DELEGATION_DEPTH: how many exchanges a delegation chain may hold
 * (RFC 8693 `act` nesting); 4 by default, a whole number from 1 to 16, anything else a
 * configuration error naming the variable.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/config.js";

const BASE = { TESSERA_DATA_DIR: "/tmp/tessera-config-test" };
const NAME = "TESSERA_TOKEN_EXCHANGE_MAX_DELEGATION_DEPTH";

describe(NAME, () => {
  it("allows four exchanges by default", () => {
    expect(loadConfig(BASE).maxDelegationDepth).toBe(4);
  });

  it.each([["1", 1], ["16", 16]])("reads %j", (value, depth) => {
    expect(loadConfig({ ...BASE, [NAME]: value }).maxDelegationDepth).toBe(depth);
  });

  it.each(["0", "17", "-1", "two", "2.5"])("refuses %j", (value) => {
    expect(() => loadConfig({ ...BASE, [NAME]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ...BASE, [NAME]: value })).toThrow(new RegExp(NAME));
  });
});
