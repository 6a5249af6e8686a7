/**
 * The refresh token grant (RFC 6749 §6) in process: the authenticated client redeems its refresh
 * token for a new access token and a successor; a token used twice ends its whole chain.
 */
import { describe, expect, it } from "vitest";
import { TesseraError } from "../../../src/errors.js";
import { clientCredentialsGrant } from "../../../src/oauth/grants/client-credentials-grant.js";
import { refreshTokenGrant } from "../../../src/oauth/grants/refresh-token-grant.js";
import { TokenEndpoint } from "../../../src/oauth/token/token-endpoint.js";
import { claimsOf, inMemoryCore, secretCredentials, testClient, tokenRequest, refusalCode } from "../token/in-memory-core.js";

function setUp() {
  const core = inMemoryCore([testClient({ id: "svc-alpha", refreshTokensEnabled: true }), testClient({ id: "svc-beta", refreshTokensEnabled: true })]);
  const endpoint = new TokenEndpoint({
    authenticator: core.authenticator,
    issuer: core.issuer,
    grants: [clientCredentialsGrant({ scopePolicy: "strict", refreshTokens: core.refreshTokens }), refreshTokenGrant({ refreshTokens: core.refreshTokens })],
  });
  const redeem = (clientId: string, refreshToken: string | undefined, scopes?: readonly string[]) =>
    endpoint.issue(
      tokenRequest({
        grantType: "refresh_token",
        credentials: secretCredentials(clientId),
        parameters: refreshToken === undefined ? {} : { refresh_token: refreshToken },
        ...(scopes ? { scopes } : {}),
      }),
    );
  const start = async (clientId: string, scopes: readonly string[]) => {
    const answer = await endpoint.issue(tokenRequest({ grantType: "client_credentials", credentials: secretCredentials(clientId), scopes }));
    return answer.refreshToken!;
  };
  return { core, redeem, start };
}


describe("refresh_token grant (RFC 6749 §6)", () => {
  it("reads the refresh_token parameter and needs client authentication", () => {
    expect(refreshTokenGrant({ refreshTokens: inMemoryCore([]).refreshTokens })).toMatchObject({
      grantType: "refresh_token",
      parameters: ["refresh_token"],
      clientAuthentication: "required",
    });
  });

  it("answers invalid_request when refresh_token is missing or empty", async () => {
    const { redeem } = setUp();
    expect(await refusalCode(redeem("svc-alpha", undefined))).toBe("invalid_request");
    expect(await refusalCode(redeem("svc-alpha", ""))).toBe("invalid_request");
  });

  it("gives a new access token for the original grant and a successor refresh token", async () => {
    const { redeem, start } = setUp();
    const first = await start("svc-alpha", ["read", "write"]);
    const answer = await redeem("svc-alpha", first);
    expect(answer).toMatchObject({ clientId: "svc-alpha", grantType: "refresh_token", tokenType: "Bearer", scopes: ["read", "write"] });
    expect(answer.refreshToken).not.toBe(first);
    expect(claimsOf(answer.accessToken)).toMatchObject({ sub: "svc-alpha", scope: "read write" });
  });

  it("narrows to requested scopes, and answers invalid_scope for a wider request", async () => {
    const { redeem, start } = setUp();
    expect((await redeem("svc-alpha", await start("svc-alpha", ["read", "write"]), ["read"])).scopes).toEqual(["read"]);
    expect(await refusalCode(redeem("svc-alpha", await start("svc-alpha", ["read"]), ["write"]))).toBe("invalid_scope");
  });

  it("answers invalid_grant for another client's refresh token", async () => {
    const { redeem, start } = setUp();
    expect(await refusalCode(redeem("svc-beta", await start("svc-alpha", ["read"])))).toBe("invalid_grant");
  });

  it("answers invalid_grant for a token used twice, and revokes the access tokens of its chain", async () => {
    const { core, redeem, start } = setUp();
    const first = await start("svc-alpha", ["read"]);
    const second = await redeem("svc-alpha", first);
    expect(await refusalCode(redeem("svc-alpha", first))).toBe("invalid_grant");
    expect(await refusalCode(redeem("svc-alpha", second.refreshToken!))).toBe("invalid_grant");
    expect(core.revokedJtis).toContain(claimsOf(second.accessToken).jti);
  });
});
