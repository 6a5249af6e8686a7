/**
 * The token pipeline in process (RFC 6749 §3.2): availability, then client authentication as
 * each grant asks, the grant found by grant_type, the token extensions, and one count of each
 * token issued. The `urn:example:grant` below is defined only here: a new grant plugs in as one
 * module plus its registration, and identifies its caller itself (as RFC 7523 §2.1 grants do).
 */
import { describe, expect, it } from "vitest";
import { TesseraError } from "../../../src/errors.js";
import { clientCredentialsGrant } from "../../../src/oauth/grants/client-credentials-grant.js";
import type { Grant, GrantContext } from "../../../src/oauth/token/grant.js";
import { TokenEndpoint, type TokenEndpointOptions } from "../../../src/oauth/token/token-endpoint.js";
import type { TokenExtension } from "../../../src/oauth/token/token-extension.js";
import { parameterValue } from "../../../src/oauth/token/token-request.js";
import { tokenResponse, type TokenResponse } from "../../../src/oauth/token/token-response.js";
import { ISSUER, claimsOf, inMemoryCore, secretCredentials, testClient, tokenRequest, refusalCode, type InMemoryCore } from "./in-memory-core.js";

const EXAMPLE_GRANT = "urn:example:grant";
const EXAMPLE_TOKEN_TYPE = "urn:example:token-type:delegated";

/**
 * A grant whose caller is named by its own parameters: `example_caller` is the client the token
 * is issued to, `example_subject` the principal it is about, `example_actor` who acts for them.
 */
function exampleGrant(core: InMemoryCore) {
  return {
    grantType: EXAMPLE_GRANT,
    parameters: ["example_caller", "example_subject", "example_actor"],
    clientAuthentication: "grant",
    async handle(context) {
      const { parameters } = context.request;
      const record = core.registry.find(parameterValue(parameters, "example_caller") ?? "");
      if (!record) throw new TesseraError("invalid_grant", "unknown caller");
      const subject = parameterValue(parameters, "example_subject");
      if (!subject) throw new TesseraError("invalid_request", "example_subject is required");
      const actor = parameterValue(parameters, "example_actor");
      const scopes = ["read"];
      const audiences = [...record.client.defaultAudiences];
      const issued = await context.issueAccessToken({
        client: record.client,
        subject,
        // RFC 8693 §4.1; the registered claims cannot be overridden.
        claims: { act: actor ? { sub: actor } : undefined, iss: "https://impostor.test", client_id: "impostor" },
        scopes,
        audiences,
      });
      const response = tokenResponse({ record, grantType: EXAMPLE_GRANT, issued, scopes, audiences, refreshToken: undefined });
      return { ...response, issuedTokenType: EXAMPLE_TOKEN_TYPE, extra: { example_note: "delegated" } };
    },
  } as const satisfies Grant<"grant">;
}

/** A grant that records which client the pipeline handed it, for `optional` authentication. */
function recordingGrant(clientAuthentication: "optional" | "required", seen: unknown[]): Grant {
  return {
    grantType: "urn:example:recording",
    parameters: [],
    clientAuthentication,
    async handle(context: GrantContext) {
      seen.push(context.client?.client.id);
      throw new TesseraError("invalid_grant", "recorded");
    },
  };
}

function setUp(options: Partial<TokenEndpointOptions> = {}) {
  const core = inMemoryCore([testClient({ id: "svc-alpha" }), testClient({ id: "svc-beta", allowedScopes: ["read"] })]);
  const issued: TokenResponse[] = [];
  const endpoint = new TokenEndpoint({
    authenticator: core.authenticator,
    issuer: core.issuer,
    grants: [clientCredentialsGrant({ scopePolicy: "strict", refreshTokens: core.refreshTokens }), exampleGrant(core)],
    onIssued: (response) => issued.push(response),
    ...options,
  });
  return { core, endpoint, issued };
}


describe("TokenEndpoint: dispatch by grant_type (RFC 6749 §3.2, §5.2)", () => {
  it("answers invalid_request when grant_type is missing", async () => {
    const { endpoint } = setUp();
    expect(await refusalCode(endpoint.issue(tokenRequest({ grantType: undefined, credentials: secretCredentials("svc-alpha") })))).toBe("invalid_request");
  });

  it("answers unsupported_grant_type for a grant type nobody registered, before authenticating", async () => {
    const { endpoint } = setUp();
    expect(await refusalCode(endpoint.issue(tokenRequest({ grantType: "password", credentials: undefined })))).toBe("unsupported_grant_type");
  });

  it("lists the registered grant types, and refuses to register one twice", () => {
    const { core, endpoint } = setUp();
    expect(endpoint.grantTypes).toEqual(["client_credentials", EXAMPLE_GRANT]);
    expect(() => new TokenEndpoint({ authenticator: core.authenticator, issuer: core.issuer, grants: [exampleGrant(core), exampleGrant(core)] })).toThrow(
      /registered twice/,
    );
  });

  it("refuses service first when the in-memory state can no longer be trusted", async () => {
    const { endpoint } = setUp({
      availability: {
        assertFresh() {
          throw new TesseraError("temporarily_unavailable", "storage unreachable");
        },
      },
    });
    expect(await refusalCode(endpoint.issue(tokenRequest({ grantType: "client_credentials", credentials: secretCredentials("svc-alpha") })))).toBe(
      "temporarily_unavailable",
    );
  });
});

describe("TokenEndpoint: client authentication as the grant asks (RFC 6749 §3.2.1)", () => {
  it("answers invalid_client for a `required` grant without credentials, and never runs the grant", async () => {
    const { endpoint, issued } = setUp();
    expect(await refusalCode(endpoint.issue(tokenRequest({ grantType: "client_credentials" })))).toBe("invalid_client");
    expect(await refusalCode(endpoint.issue(tokenRequest({ grantType: "client_credentials", credentials: secretCredentials("svc-alpha", "wrong") })))).toBe(
      "invalid_client",
    );
    expect(issued).toEqual([]);
  });

  it("runs an `optional` grant without a client when none was presented, and authenticates one that was", async () => {
    const seen: unknown[] = [];
    const { core } = setUp();
    const endpoint = new TokenEndpoint({ authenticator: core.authenticator, issuer: core.issuer, grants: [recordingGrant("optional", seen)] });
    await refusalCode(endpoint.issue(tokenRequest({ grantType: "urn:example:recording" })));
    await refusalCode(endpoint.issue(tokenRequest({ grantType: "urn:example:recording", credentials: secretCredentials("svc-beta") })));
    expect(await refusalCode(endpoint.issue(tokenRequest({ grantType: "urn:example:recording", credentials: secretCredentials("svc-beta", "wrong") })))).toBe(
      "invalid_client",
    );
    expect(seen).toEqual([undefined, "svc-beta"]);
  });

  it("leaves a `grant` grant to identify its caller itself: no client credentials needed", async () => {
    const { endpoint, issued } = setUp();
    const answer = await endpoint.issue(
      tokenRequest({ grantType: EXAMPLE_GRANT, parameters: { example_caller: "svc-beta", example_subject: "workload-7", example_actor: "svc-alpha" } }),
    );
    expect(answer).toMatchObject({ clientId: "svc-beta", grantType: EXAMPLE_GRANT, tokenType: "Bearer", issuedTokenType: EXAMPLE_TOKEN_TYPE });
    expect(answer.extra).toEqual({ example_note: "delegated" });
    expect(issued.map((each) => each.grantType)).toEqual([EXAMPLE_GRANT]);
  });
});

describe("TokenEndpoint: the issued access token (RFC 9068 §2.2)", () => {
  it("is about the client itself when the grant names no subject (RFC 6749 §4.4)", async () => {
    const { endpoint } = setUp();
    const answer = await endpoint.issue(tokenRequest({ grantType: "client_credentials", credentials: secretCredentials("svc-alpha") }));
    expect(claimsOf(answer.accessToken)).toMatchObject({ iss: ISSUER, sub: "svc-alpha", client_id: "svc-alpha", scope: "read", aud: "https://api.test" });
  });

  it("carries the grant's subject and extra claims, while the registered claims stay the issuer's", async () => {
    const { endpoint } = setUp();
    const answer = await endpoint.issue(
      tokenRequest({ grantType: EXAMPLE_GRANT, parameters: { example_caller: "svc-beta", example_subject: "workload-7", example_actor: "svc-alpha" } }),
    );
    expect(claimsOf(answer.accessToken)).toMatchObject({ iss: ISSUER, sub: "workload-7", client_id: "svc-beta", act: { sub: "svc-alpha" } });
  });

  it("is counted once per token issued, and not at all for a refusal", async () => {
    const { endpoint, issued } = setUp();
    await endpoint.issue(tokenRequest({ grantType: "client_credentials", credentials: secretCredentials("svc-alpha") }));
    await refusalCode(endpoint.issue(tokenRequest({ grantType: "client_credentials", credentials: secretCredentials("svc-alpha"), scopes: ["admin"] })));
    expect(issued.map((each) => [each.clientId, each.alg, each.grantType])).toEqual([["svc-alpha", "ES256", "client_credentials"]]);
  });
});

describe("TokenEndpoint: token extensions, after every grant", () => {
  /** Stands in for RFC 9449 DPoP: binds the token to the proof's key and says so in token_type. */
  const binding: TokenExtension = {
    name: "example-binding",
    accessTokenClaims: (context) => (context.request.proof?.dpop ? { cnf: { jkt: `thumbprint-of:${context.request.proof.dpop}` } } : undefined),
    response: (context, response) => (context.request.proof?.dpop ? { ...response, tokenType: "DPoP" } : response),
  };

  it("add claims before the token is signed and adjust the answer, for any grant", async () => {
    const { endpoint } = setUp({ extensions: [binding] });
    const bound = await endpoint.issue(tokenRequest({ grantType: "client_credentials", credentials: secretCredentials("svc-alpha"), dpop: "proof-1" }));
    expect(bound.tokenType).toBe("DPoP");
    expect(claimsOf(bound.accessToken)).toMatchObject({ sub: "svc-alpha", cnf: { jkt: "thumbprint-of:proof-1" } });

    const delegated = await endpoint.issue(
      tokenRequest({ grantType: EXAMPLE_GRANT, parameters: { example_caller: "svc-beta", example_subject: "workload-7" }, dpop: "proof-2" }),
    );
    expect(delegated.tokenType).toBe("DPoP");
    expect(claimsOf(delegated.accessToken)).toMatchObject({ sub: "workload-7", cnf: { jkt: "thumbprint-of:proof-2" } });
  });

  it("leave a request without proof material alone", async () => {
    const { endpoint } = setUp({ extensions: [binding] });
    const answer = await endpoint.issue(tokenRequest({ grantType: "client_credentials", credentials: secretCredentials("svc-alpha") }));
    expect(answer.tokenType).toBe("Bearer");
    expect(claimsOf(answer.accessToken)).not.toHaveProperty("cnf");
  });

  it("merge the cnf objects of several extensions (RFC 7800 §3.1: one cnf, a member per kind of key)", async () => {
    const certificate: TokenExtension = { name: "example-certificate", accessTokenClaims: () => ({ cnf: { "x5t#S256": "certificate-thumbprint" } }) };
    const { endpoint } = setUp({ extensions: [binding, certificate] });
    const bound = await endpoint.issue(tokenRequest({ grantType: "client_credentials", credentials: secretCredentials("svc-alpha"), dpop: "proof-3" }));
    expect(claimsOf(bound.accessToken)).toMatchObject({ cnf: { jkt: "thumbprint-of:proof-3", "x5t#S256": "certificate-thumbprint" } });
  });

  it("refuse the request when one throws, and nothing is counted", async () => {
    const refusing: TokenExtension = {
      name: "refusing",
      accessTokenClaims: () => {
        throw new TesseraError("invalid_request", "proof refused");
      },
    };
    const { endpoint, issued } = setUp({ extensions: [refusing] });
    expect(await refusalCode(endpoint.issue(tokenRequest({ grantType: "client_credentials", credentials: secretCredentials("svc-alpha") })))).toBe(
      "invalid_request",
    );
    expect(issued).toEqual([]);
  });
});

describe("ClientAuthenticator.authenticate, as the token pipeline calls it", () => {
  it("answers a right client secret at once, without a promise to await", () => {
    const core = inMemoryCore([testClient({ id: "sync-client" })]);
    const answer = core.authenticator.authenticate(secretCredentials("sync-client"));
    expect(answer).not.toBeInstanceOf(Promise);
    expect((answer as Exclude<typeof answer, Promise<unknown>>).client.id).toBe("sync-client");
  });

  it("refuses a wrong secret, an unknown client and missing credentials with a rejected promise, never a throw", async () => {
    const core = inMemoryCore([testClient({ id: "sync-client" })]);
    const calls = [
      () => core.authenticator.authenticate(secretCredentials("sync-client", "wrong-secret")),
      () => core.authenticator.authenticate(secretCredentials("nobody")),
      () => core.authenticator.authenticate(undefined),
    ];
    for (const call of calls) {
      const answer = call();
      expect(answer).toBeInstanceOf(Promise);
      expect(await refusalCode(answer as Promise<unknown>)).toBe("invalid_client");
    }
  });
});
