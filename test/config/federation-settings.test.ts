import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/config.js";

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe("federation settings", () => {
  it("fetch over https only, with keys serving an hour past their freshness, unless told otherwise", () => {
    expect(loadConfig({}).federation).toEqual({ allowHttp: false, jwksMaxStalenessSeconds: 3_600 });
    expect(loadConfig({ TESSERA_FEDERATION_ALLOW_HTTP: "true", TESSERA_FEDERATION_JWKS_MAX_STALENESS: "15m" }).federation).toEqual({
      allowHttp: true,
      jwksMaxStalenessSeconds: 900,
    });
  });

  it("names a bad value", () => {
    expect(problemsOf({ TESSERA_FEDERATION_ALLOW_HTTP: "yes" })).toEqual(["TESSERA_FEDERATION_ALLOW_HTTP must be true or false"]);
    expect(problemsOf({ TESSERA_FEDERATION_JWKS_MAX_STALENESS: "8d" })).toEqual(["TESSERA_FEDERATION_JWKS_MAX_STALENESS must be at most 7d"]);
    expect(problemsOf({ TESSERA_FEDERATION_JWKS_MAX_STALENESS: "soon" })[0]).toMatch(/^TESSERA_FEDERATION_JWKS_MAX_STALENESS must be a duration/);
  });
});
