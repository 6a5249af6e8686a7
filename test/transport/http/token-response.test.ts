/**
 * The token endpoint's JSON is written out by hand (src/transport/http/token-route.ts), so it
 * must say exactly what JSON.stringify of the RFC 6749 §5.1 object would.
 */
import { describe, expect, it } from "vitest";
import { tokenResponseJson } from "../../../src/transport/http/token-route.js";

const accessToken = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJjMSJ9.c2lnbmF0dXJlLV8";

describe("tokenResponseJson", () => {
  it("is valid JSON with the RFC 6749 §5.1 members, in their usual order", () => {
    const json = tokenResponseJson({ accessToken, tokenType: "Bearer", expiresIn: 300, scopes: ["read", "write"], refreshToken: undefined });
    expect(json).toBe(JSON.stringify({ access_token: accessToken, token_type: "Bearer", expires_in: 300, scope: "read write" }));
  });

  it("leaves out an empty scope and adds a refresh token when there is one", () => {
    const json = tokenResponseJson({ accessToken, tokenType: "Bearer", expiresIn: 60, scopes: [], refreshToken: "rt_abc.DEF-_" });
    expect(JSON.parse(json)).toEqual({ access_token: accessToken, token_type: "Bearer", expires_in: 60, refresh_token: "rt_abc.DEF-_" });
  });

  it("escapes what JSON must escape in every value it does not make itself", () => {
    const json = tokenResponseJson({ accessToken, tokenType: "Bearer", expiresIn: 1, scopes: ['a"b', "c\\d", "é"], refreshToken: 'r"t' });
    expect(JSON.parse(json)).toEqual({ access_token: accessToken, token_type: "Bearer", expires_in: 1, scope: 'a"b c\\d é', refresh_token: 'r"t' });
  });

  it("adds issued_token_type (RFC 8693 §2.2.1) and the extra members after the standard ones", () => {
    const json = tokenResponseJson({
      accessToken,
      tokenType: "DPoP",
      expiresIn: 60,
      scopes: ["read"],
      refreshToken: undefined,
      issuedTokenType: "urn:ietf:params:oauth:token-type:access_token",
      extra: { note: 'a"b', "odd\\name": "é" },
    });
    expect(json).toBe(
      JSON.stringify({
        access_token: accessToken,
        token_type: "DPoP",
        expires_in: 60,
        scope: "read",
        issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
        note: 'a"b',
        "odd\\name": "é",
      }),
    );
  });
});
