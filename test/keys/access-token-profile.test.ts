/**
 * The one access-token profile (src/keys/access-token-profile.ts) against what the issuer
 * actually mints: every token carries the profile's typ, one of its algorithms and every claim
 * it requires, so the server's verifier and the published one accept what Tessera issues.
 */
import { describe, expect, it } from "vitest";
import {
  ACCESS_TOKEN_SIGNING_ALGORITHMS,
  ACCESS_TOKEN_TYP,
  REQUIRED_ACCESS_TOKEN_CLAIMS,
} from "../../src/keys/access-token-profile.js";
import { claimsOf, inMemoryCore, testClient } from "../oauth/token/in-memory-core.js";

function headerOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString("utf8")) as Record<string, unknown>;
}

describe("the access-token profile", () => {
  const client = testClient({ id: "profiled", allowedScopes: ["s"] });

  it("is what the issuer mints: typ at+jwt, a profile algorithm, every required claim", async () => {
    const { issuer } = inMemoryCore([client]);
    const { token } = await issuer.issue({ client: client.client, scopes: ["s"], audiences: [] });
    const header = headerOf(token);
    expect(header.typ).toBe(ACCESS_TOKEN_TYP);
    expect(ACCESS_TOKEN_SIGNING_ALGORITHMS).toContain(header.alg);
    const claims = claimsOf(token);
    for (const claim of REQUIRED_ACCESS_TOKEN_CLAIMS) expect(claims, claim).toHaveProperty(claim);
  });
});
