/**
 * TokenService.IssueToken is a mechanical adapter: the message's typed fields become the same
 * parameters, by their RFC names, that a form body would carry, and the answer's fields come back
 * unchanged. Checked against a stand-in pipeline, without a server.
 */
import { create } from "@bufbuild/protobuf";
import { createContextValues, createHandlerContext } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { GrantType, IssueTokenRequestSchema, TokenService } from "../../../src/gen/tessera/v1/token_service_pb.js";
import type { TokenEndpoint } from "../../../src/oauth/token/token-endpoint.js";
import type { TokenRequest } from "../../../src/oauth/token/token-request.js";
import type { TokenResponse } from "../../../src/oauth/token/token-response.js";
import { clientCertificateKey } from "../../../src/transport/connect/context.js";
import { tokenServiceImpl } from "../../../src/transport/connect/token-service.js";

const ANSWER: TokenResponse = {
  clientId: "svc-alpha",
  alg: "ES256",
  grantType: "urn:ietf:params:oauth:grant-type:token-exchange",
  accessToken: "header.payload.signature",
  tokenType: "DPoP",
  expiresIn: 300,
  scopes: ["read"],
  audiences: ["https://api.test"],
  expireTime: new Date("2030-01-01T00:05:00.000Z"),
  issuedTokenType: "urn:ietf:params:oauth:token-type:access_token",
  extra: { note: "kept" },
};

function serviceWithRecorder() {
  const seen: TokenRequest[] = [];
  const endpoint = { issue: async (request: TokenRequest) => (seen.push(request), ANSWER) } as unknown as TokenEndpoint;
  const impl = tokenServiceImpl({ endpoint, issuer: "https://tessera.test/" });
  const context = (headers: Record<string, string> = {}, values = createContextValues()) =>
    createHandlerContext({
      service: TokenService,
      method: TokenService.method.issueToken,
      protocolName: "grpc",
      requestMethod: "POST",
      url: "http://127.0.0.1/tessera.v1.TokenService/IssueToken",
      requestHeader: headers,
      contextValues: values,
    });
  return { impl, seen, context };
}

describe("TokenService.IssueToken → the token pipeline", () => {
  it("passes the RFC 8693 and RFC 7523 fields as parameters by their RFC names, leaving out empty ones", async () => {
    const { impl, seen, context } = serviceWithRecorder();
    const request = create(IssueTokenRequestSchema, {
      grantType: GrantType.TOKEN_EXCHANGE,
      clientId: "svc-alpha",
      credential: { case: "clientSecret", value: "secret" },
      scopes: ["read"],
      audiences: ["https://api.test"],
      subjectToken: "subject.jwt",
      subjectTokenType: "urn:ietf:params:oauth:token-type:jwt",
      actorToken: "actor.jwt",
      actorTokenType: "urn:ietf:params:oauth:token-type:jwt",
      requestedTokenType: "urn:ietf:params:oauth:token-type:access_token",
    });
    await impl.issueToken(request, context({ dpop: "proof.jwt" }));
    const [passed] = seen;
    expect(passed).toMatchObject({
      grantType: "urn:ietf:params:oauth:grant-type:token-exchange",
      credentials: { method: "client_secret_post", clientId: "svc-alpha", clientSecret: "secret" },
      scopes: ["read"],
      audiences: ["https://api.test"],
      proof: { method: "POST", url: "https://tessera.test/tessera.v1.TokenService/IssueToken", dpop: "proof.jwt" },
    });
    expect(Object.fromEntries(passed!.parameters)).toEqual({
      subject_token: ["subject.jwt"],
      subject_token_type: ["urn:ietf:params:oauth:token-type:jwt"],
      actor_token: ["actor.jwt"],
      actor_token_type: ["urn:ietf:params:oauth:token-type:jwt"],
      requested_token_type: ["urn:ietf:params:oauth:token-type:access_token"],
    });
  });

  it("passes impersonate as impersonate=true only when set", async () => {
    const { impl, seen, context } = serviceWithRecorder();
    const base = { grantType: GrantType.TOKEN_EXCHANGE, subjectToken: "subject.jwt" };
    await impl.issueToken(create(IssueTokenRequestSchema, { ...base, impersonate: true }), context());
    await impl.issueToken(create(IssueTokenRequestSchema, base), context());
    expect(seen.map((request) => request.parameters.get("impersonate"))).toEqual([["true"], undefined]);
  });

  it("names the jwt-bearer grant by its URI and passes its assertion", async () => {
    const { impl, seen, context } = serviceWithRecorder();
    await impl.issueToken(create(IssueTokenRequestSchema, { grantType: GrantType.JWT_BEARER, assertion: "grant.jwt" }), context());
    expect(seen[0]).toMatchObject({ grantType: "urn:ietf:params:oauth:grant-type:jwt-bearer", credentials: undefined });
    expect(seen[0]!.proof?.dpop).toBeUndefined();
    expect(Object.fromEntries(seen[0]!.parameters)).toEqual({ assertion: ["grant.jwt"] });
  });

  it("passes client_id as a parameter when no credential names the client (jwt-bearer naming one of several clients)", async () => {
    const { impl, seen, context } = serviceWithRecorder();
    await impl.issueToken(create(IssueTokenRequestSchema, { grantType: GrantType.JWT_BEARER, clientId: "svc-alpha", assertion: "grant.jwt" }), context());
    expect(seen[0]!.credentials).toBeUndefined();
    expect(Object.fromEntries(seen[0]!.parameters)).toEqual({ assertion: ["grant.jwt"], client_id: ["svc-alpha"] });
  });

  it("presents a SPIFFE JWT-SVID client assertion as spiffe_jwt, and any other assertion as private_key_jwt", async () => {
    const { impl, seen, context } = serviceWithRecorder();
    const assertion = (assertionType: string) =>
      create(IssueTokenRequestSchema, { grantType: GrantType.CLIENT_CREDENTIALS, credential: { case: "clientAssertion", value: { assertionType, assertion: "svid.jwt" } } });
    await impl.issueToken(assertion("urn:ietf:params:oauth:client-assertion-type:jwt-spiffe"), context());
    await impl.issueToken(assertion("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"), context());
    expect(seen.map((request) => request.credentials?.method)).toEqual(["spiffe_jwt", "private_key_jwt"]);
  });

  it("answers with token_type, issued_token_type and the extra members the pipeline gave", async () => {
    const { impl, context } = serviceWithRecorder();
    const answer = await impl.issueToken(create(IssueTokenRequestSchema, { grantType: GrantType.CLIENT_CREDENTIALS }), context());
    expect(answer).toMatchObject({
      accessToken: "header.payload.signature",
      tokenType: "DPoP",
      expiresIn: 300n,
      issuedTokenType: "urn:ietf:params:oauth:token-type:access_token",
      extra: { note: "kept" },
      refreshToken: "",
    });
  });

  it("passes the verified TLS client certificate the connection carried, and none without one", async () => {
    const { impl, seen, context } = serviceWithRecorder();
    const request = create(IssueTokenRequestSchema, { clientId: "svc-alpha", credential: { case: "clientSecret", value: "secret" } });
    const der = Buffer.from("certificate in DER");
    await impl.issueToken(request, context({}, createContextValues().set(clientCertificateKey, { der, chainVerified: true })));
    await impl.issueToken(request, context());
    expect(seen[0]!.proof?.clientCertificate).toEqual({ der, chainVerified: true });
    expect(seen[1]!.proof?.clientCertificate).toBeUndefined();
  });
});
