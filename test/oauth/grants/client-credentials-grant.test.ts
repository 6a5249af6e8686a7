/**
 * The client credentials grant (RFC 6749 §4.4) in process: scopes from the client's allowance
 * (§3.3), audiences from its allowed resources (RFC 8707 §2), a refresh token only when opted in.
 */
import { describe, expect, it } from "vitest";
import type { ClientRecord } from "../../../src/clients/client.js";
import type { ScopePolicy } from "../../../src/oauth/grants/client-credentials-grant.js";
import { TesseraError } from "../../../src/errors.js";
import { clientCredentialsGrant } from "../../../src/oauth/grants/client-credentials-grant.js";
import { TokenEndpoint } from "../../../src/oauth/token/token-endpoint.js";
import { claimsOf, inMemoryCore, secretCredentials, testClient, tokenRequest, refusalCode } from "../token/in-memory-core.js";

function endpointFor(record: ClientRecord, scopePolicy: ScopePolicy = "strict") {
  const core = inMemoryCore([record]);
  const endpoint = new TokenEndpoint({
    authenticator: core.authenticator,
    issuer: core.issuer,
    grants: [clientCredentialsGrant({ scopePolicy, refreshTokens: core.refreshTokens })],
  });
  const issue = (request: { scopes?: readonly string[]; audiences?: readonly string[] } = {}) =>
    endpoint.issue(tokenRequest({ grantType: "client_credentials", credentials: secretCredentials(record.client.id), ...request }));
  return { core, issue };
}


describe("client_credentials grant (RFC 6749 §4.4)", () => {
  it("needs client authentication, reads no grant-specific parameter, and is named client_credentials", () => {
    const grant = clientCredentialsGrant({ scopePolicy: "strict", refreshTokens: inMemoryCore([]).refreshTokens });
    expect(grant).toMatchObject({ grantType: "client_credentials", clientAuthentication: "required", parameters: [] });
  });

  it("grants the client's default scopes and audiences when the request names none", async () => {
    const { issue } = endpointFor(testClient({ id: "svc-alpha", defaultScopes: ["read"], defaultAudiences: ["https://api.test"] }));
    const answer = await issue();
    expect(answer).toMatchObject({ clientId: "svc-alpha", grantType: "client_credentials", tokenType: "Bearer", scopes: ["read"], audiences: ["https://api.test"] });
    expect(answer.refreshToken).toBeUndefined();
    expect(claimsOf(answer.accessToken)).toMatchObject({ sub: "svc-alpha", client_id: "svc-alpha", scope: "read", aud: "https://api.test" });
  });

  it("grants requested scopes within the allowance, once each", async () => {
    const { issue } = endpointFor(testClient({ id: "svc-alpha" }));
    expect((await issue({ scopes: ["write", "read", "write"] })).scopes).toEqual(["write", "read"]);
  });

  it("answers invalid_scope for a scope outside the allowance under the strict policy", async () => {
    const { issue } = endpointFor(testClient({ id: "svc-alpha" }));
    expect(await refusalCode(issue({ scopes: ["read", "admin"] }))).toBe("invalid_scope");
  });

  it("grants the allowed subset under the narrow policy, and invalid_scope when nothing is left", async () => {
    const { issue } = endpointFor(testClient({ id: "svc-alpha" }), "narrow");
    expect((await issue({ scopes: ["read", "admin"] })).scopes).toEqual(["read"]);
    expect(await refusalCode(issue({ scopes: ["admin"] }))).toBe("invalid_scope");
  });

  it("answers invalid_target for an audience the client may not get tokens for (RFC 8707 §2)", async () => {
    const { issue } = endpointFor(testClient({ id: "svc-alpha" }));
    expect(await refusalCode(issue({ audiences: ["https://elsewhere.test"] }))).toBe("invalid_target");
  });

  it("adds a refresh token only for a client that opted in (RFC 6749 §4.4.3)", async () => {
    const { core, issue } = endpointFor(testClient({ id: "svc-alpha", refreshTokensEnabled: true }));
    const answer = await issue();
    expect(answer.refreshToken).toMatch(/^\S+$/);
    expect(core.refreshTokenRows.rows.size).toBe(1);
  });
});
