/**
 * Where the token source looks for an issuer's metadata (RFC 8414 §3.1, then OpenID Connect
 * Discovery 1.0 §4), and that metadata naming another issuer is refused (RFC 8414 §3.3).
 */
import { describe, expect, it } from "vitest";
import { discoverMetadata, metadataUrls } from "tessera/client";

describe("metadataUrls", () => {
  it.each([
    ["https://tessera.example", ["https://tessera.example/.well-known/oauth-authorization-server", "https://tessera.example/.well-known/openid-configuration"]],
    ["https://tessera.example/", ["https://tessera.example/.well-known/oauth-authorization-server", "https://tessera.example/.well-known/openid-configuration"]],
    ["https://idp.example/tenants/a", ["https://idp.example/.well-known/oauth-authorization-server/tenants/a", "https://idp.example/tenants/a/.well-known/openid-configuration"]],
  ])("for %s inserts the RFC 8414 segment before the path, then appends OpenID's", (issuer, urls) => {
    expect(metadataUrls(issuer)).toEqual(urls);
  });
});

describe("discoverMetadata", () => {
  const answering = (answers: Record<string, { status: number; body: unknown }>): typeof fetch => async (input) => {
    const answer = answers[String(input)] ?? { status: 404, body: {} };
    return new Response(JSON.stringify(answer.body), { status: answer.status, headers: { "content-type": "application/json" } });
  };

  it("falls back to openid-configuration when the RFC 8414 document is missing", async () => {
    const fetch = answering({ "https://idp.example/.well-known/openid-configuration": { status: 200, body: { issuer: "https://idp.example", token_endpoint: "https://idp.example/token" } } });
    await expect(discoverMetadata({ issuer: "https://idp.example", fetch, timeoutMs: 1000 })).resolves.toMatchObject({ token_endpoint: "https://idp.example/token" });
  });

  it("refuses metadata that names another issuer, so no credentials go to its token endpoint", async () => {
    const fetch = answering({ "https://idp.example/.well-known/oauth-authorization-server": { status: 200, body: { issuer: "https://evil.example", token_endpoint: "https://evil.example/token" } } });
    await expect(discoverMetadata({ issuer: "https://idp.example", fetch, timeoutMs: 1000 })).rejects.toMatchObject({ error: "server_error", reason: "unexpected_answer" });
  });

  it("reports an issuer without metadata", async () => {
    await expect(discoverMetadata({ issuer: "https://idp.example", fetch: answering({}), timeoutMs: 1000 })).rejects.toMatchObject({ reason: "unexpected_answer", status: 404 });
  });
});
