import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OutboundFetchError, cacheMaxAge, outboundJsonFetcher } from "../../src/federation/outbound-fetch.js";
import { startFakeServer, type FakeServer } from "../support/fake-issuer.js";
import { selfSignedCertificate } from "../support/tls.js";
import https from "node:https";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";

let server: FakeServer;
let other: FakeServer;
let plain: FakeServer;

beforeAll(async () => {
  [server, other, plain] = await Promise.all([startFakeServer(), startFakeServer(), startFakeServer({ tls: false })]);
  server.json("/jwks", { keys: [] }, "public, max-age=120");
  other.json("/jwks", { keys: [{ kid: "attacker" }] });
  plain.json("/jwks", { keys: [] });
});

afterAll(async () => {
  await Promise.all([server.close(), other.close(), plain.close()]);
});

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(OutboundFetchError);
  return (error as OutboundFetchError).reason;
}

describe("outbound JSON fetcher", () => {
  it("fetches JSON over HTTPS from a server whose CA is trusted through NODE_EXTRA_CA_CERTS", async () => {
    const fetched = await outboundJsonFetcher()(`${server.origin}/jwks`);
    expect(fetched.body).toEqual({ keys: [] });
    expect(fetched.maxAgeSeconds).toBe(120);
  });

  it("refuses a server whose certificate no trusted CA signed", async () => {
    const certificate = selfSignedCertificate();
    const untrusted = https.createServer({ cert: certificate.ca, key: readFileSync(certificate.env.TESSERA_TLS_KEY) }, (_request, response) =>
      response.end("{}"),
    );
    await new Promise<void>((resolve) => untrusted.listen(0, "127.0.0.1", resolve));
    try {
      const port = (untrusted.address() as AddressInfo).port;
      expect(await refusal(outboundJsonFetcher()(`https://127.0.0.1:${port}/`))).toBe("unreachable");
    } finally {
      untrusted.close();
      certificate.remove();
    }
  });

  it("refuses plain http unless development clusters are allowed", async () => {
    expect(await refusal(outboundJsonFetcher()(`${plain.origin}/jwks`))).toBe("insecure_url");
    const fetched = await outboundJsonFetcher({ allowHttp: true })(`${plain.origin}/jwks`);
    expect(fetched.body).toEqual({ keys: [] });
  });

  it("refuses URLs that are not http(s) or carry credentials", async () => {
    expect(await refusal(outboundJsonFetcher()("file:///etc/passwd"))).toBe("invalid_url");
    expect(await refusal(outboundJsonFetcher()("not a url"))).toBe("invalid_url");
    expect(await refusal(outboundJsonFetcher()(`https://user:pw@127.0.0.1:1/`))).toBe("invalid_url");
  });

  it("follows a redirect within the same origin", async () => {
    server.route("/moved", (_request, response) => response.writeHead(302, { location: "/jwks" }).end());
    const fetched = await outboundJsonFetcher()(`${server.origin}/moved`);
    expect(fetched.body).toEqual({ keys: [] });
    expect(fetched.url).toBe(`${server.origin}/jwks`);
  });

  it("refuses a redirect to another origin without fetching it", async () => {
    server.route("/elsewhere", (_request, response) => response.writeHead(301, { location: `${other.origin}/jwks` }).end());
    const before = other.hitsOf("/jwks");
    expect(await refusal(outboundJsonFetcher()(`${server.origin}/elsewhere`))).toBe("redirect_refused");
    expect(other.hitsOf("/jwks")).toBe(before);
  });

  it("refuses more than the allowed number of redirects", async () => {
    server.route("/loop", (_request, response) => response.writeHead(307, { location: "/loop" }).end());
    expect(await refusal(outboundJsonFetcher({ maxRedirects: 3 })(`${server.origin}/loop`))).toBe("too_many_redirects");
  });

  it("refuses an answer larger than the cap, declared or streamed", async () => {
    server.route("/big-declared", (_request, response) => {
      response.writeHead(200, { "content-type": "application/json", "content-length": String(300 * 1024) });
      response.end(`{"keys":"${"x".repeat(300 * 1024 - 11)}"}`);
    });
    server.route("/big-streamed", (_request, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      const chunk = "x".repeat(64 * 1024);
      response.write('{"keys":"');
      // Would go on far past the cap; the fetcher stops reading first.
      let written = 0;
      const timer = setInterval(() => {
        if (response.destroyed || written++ > 100) {
          clearInterval(timer);
          response.end();
          return;
        }
        response.write(chunk);
      }, 1);
    });
    expect(await refusal(outboundJsonFetcher({ maxResponseBytes: 256 * 1024 })(`${server.origin}/big-declared`))).toBe("too_large");
    expect(await refusal(outboundJsonFetcher({ maxResponseBytes: 256 * 1024 })(`${server.origin}/big-streamed`))).toBe("too_large");
  });

  it("refuses a server that answers too slowly", async () => {
    server.route("/slow", (_request, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.write('{"keys":');
      // Never finishes on its own.
    });
    expect(await refusal(outboundJsonFetcher({ totalTimeoutMs: 300 })(`${server.origin}/slow`))).toBe("timeout");
  });

  it("refuses non-2xx answers, non-JSON and JSON that is not an object", async () => {
    server.route("/error", (_request, response) => response.writeHead(500).end('{"keys":[]}'));
    server.route("/html", (_request, response) => response.writeHead(200, { "content-type": "text/html" }).end("<html></html>"));
    server.route("/array", (_request, response) => response.writeHead(200).end("[1,2]"));
    expect(await refusal(outboundJsonFetcher()(`${server.origin}/error`))).toBe("http_status");
    expect(await refusal(outboundJsonFetcher()(`${server.origin}/html`))).toBe("not_json");
    expect(await refusal(outboundJsonFetcher()(`${server.origin}/array`))).toBe("not_json");
    expect(await refusal(outboundJsonFetcher()(`${server.origin}/missing`))).toBe("http_status");
  });

  it("refuses a server that does not answer at all", async () => {
    const gone = await startFakeServer();
    const origin = gone.origin;
    await gone.close();
    expect(await refusal(outboundJsonFetcher()(`${origin}/jwks`))).toBe("unreachable");
  });
});

describe("Cache-Control reading", () => {
  it.each([
    [undefined, undefined],
    ["max-age=300", 300],
    ["public, max-age=60, must-revalidate", 60],
    ["max-age=300, s-maxage=30", 30],
    ["no-store", 0],
    ["no-cache, max-age=600", 0],
    ["max-age=abc", undefined],
  ])("%s → %s", (header, expected) => {
    expect(cacheMaxAge(header)).toBe(expected);
  });
});
