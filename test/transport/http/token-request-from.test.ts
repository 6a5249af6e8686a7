/**
 * POST /oauth/token is a mechanical adapter: every body parameter reaches the pipeline as
 * received, with the proof material the gateway saw (method, the public URL the issuer names,
 * the DPoP header). Checked on a stand-in request, without a server.
 */
import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { parseFormBody } from "../../../src/transport/http/form-body.js";
import { tokenRequestFrom } from "../../../src/transport/http/token-route.js";

const ORIGIN = { address: "127.0.0.1" } as never;

function requestWith(headers: Record<string, string>): IncomingMessage {
  const rawHeaders = Object.entries(headers).flat();
  return { method: "POST", headers, rawHeaders, socket: {} } as unknown as IncomingMessage;
}

describe("tokenRequestFrom", () => {
  const options = { originOf: () => ORIGIN, tokenUrl: "https://tessera.test/oauth/token" };

  it("passes every parameter through, a grant's own ones included", () => {
    const body = parseFormBody(
      Buffer.from(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&client_id=svc-alpha&client_secret=s" +
          "&subject_token=a.b.c&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt&scope=read+write&resource=https%3A%2F%2Fapi.test",
      ),
    );
    const request = tokenRequestFrom(requestWith({ host: "attacker.test", dpop: "proof.jwt" }), body, options);
    expect(request).toMatchObject({
      grantType: "urn:ietf:params:oauth:grant-type:token-exchange",
      credentials: { method: "client_secret_post", clientId: "svc-alpha", clientSecret: "s" },
      scopes: ["read", "write"],
      audiences: ["https://api.test"],
      origin: ORIGIN,
      proof: { method: "POST", url: "https://tessera.test/oauth/token", dpop: "proof.jwt", clientCertificate: undefined },
    });
    expect(request.parameters.get("subject_token")).toEqual(["a.b.c"]);
    expect(request.parameters.get("subject_token_type")).toEqual(["urn:ietf:params:oauth:token-type:jwt"]);
  });

  it("presents a SPIFFE JWT-SVID client assertion as spiffe_jwt, a jwt-bearer one as private_key_jwt", () => {
    const methodOf = (type: string) =>
      tokenRequestFrom(requestWith({}), parseFormBody(Buffer.from(`grant_type=client_credentials&client_assertion=a.b.c&client_assertion_type=${encodeURIComponent(type)}`)), options).credentials?.method;
    expect(methodOf("urn:ietf:params:oauth:client-assertion-type:jwt-spiffe")).toBe("spiffe_jwt");
    expect(methodOf("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")).toBe("private_key_jwt");
  });

  it("has no DPoP proof and no client certificate on a plain connection without the header", () => {
    const request = tokenRequestFrom(requestWith({}), parseFormBody(Buffer.from("grant_type=client_credentials")), options);
    expect(request.proof).toEqual({ method: "POST", url: "https://tessera.test/oauth/token", dpop: undefined, clientCertificate: undefined });
  });
});
