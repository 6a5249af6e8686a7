import { describe, expect, it } from "vitest";
import type { AccessTokenVerifier, ActiveAccessToken } from "../../src/oauth/access-token-verifier.js";
import { identifyOwnApiCaller } from "../../src/oauth/own-api-caller.js";

const ISSUER = "https://tessera.test";

function activeToken(facts: { audiences: string[]; scopes: string[] }): ActiveAccessToken {
  return { clientId: "caller", jti: "j", issuedAt: 0, notBefore: 0, expiresAt: 0, claims: {}, ...facts } as unknown as ActiveAccessToken;
}

function verifierKnowing(tokens: Record<string, ActiveAccessToken>): AccessTokenVerifier {
  return { verify: async (token: string) => tokens[token] } as unknown as AccessTokenVerifier;
}

describe("a Bearer token calling Tessera's own API", () => {
  const verifier = verifierKnowing({
    admin: activeToken({ audiences: [ISSUER], scopes: ["tessera:admin"] }),
    reader: activeToken({ audiences: [ISSUER], scopes: ["tessera:clients:read"] }),
    elsewhere: activeToken({ audiences: ["https://api.example"], scopes: ["tessera:admin"] }),
  });
  const identify = (token: string, permittedScopes: string[]) => identifyOwnApiCaller({ token, permittedScopes, verifier, issuer: ISSUER });

  it("is allowed when active, issued for Tessera and carrying one of the permitted scopes", async () => {
    const caller = await identify("reader", ["tessera:admin", "tessera:clients:read"]);
    expect(caller).toMatchObject({ allowed: true, token: { clientId: "caller" } });
  });

  it("is refused as not active when the verifier does not know it", async () => {
    expect(await identify("forged", ["tessera:admin"])).toEqual({ allowed: false, refusal: "not_active" });
  });

  it("is refused for the wrong audience when issued for another resource server (RFC 9068 §4)", async () => {
    expect(await identify("elsewhere", ["tessera:admin"])).toMatchObject({ allowed: false, refusal: "wrong_audience", token: { clientId: "caller" } });
  });

  it("is refused for insufficient scope when it holds none of the permitted scopes", async () => {
    expect(await identify("reader", ["tessera:admin"])).toMatchObject({ allowed: false, refusal: "insufficient_scope" });
  });

  it("is refused for insufficient scope when no scope permits the call", async () => {
    expect(await identify("admin", [])).toMatchObject({ allowed: false, refusal: "insufficient_scope" });
  });
});
