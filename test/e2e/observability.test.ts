/**
 * What an operator watches: every HTTP answer carries a request id, /metrics counts requests
 * and their latencies per route and per RPC, and an OpenTelemetry SDK registered in the process
 * receives a server span for each request — also one registered after Tessera started.
 */
import { createClient, ConnectError, Code } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { trace, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenService } from "../../src/gen/tessera/v1/token_service_pb.js";
import { clientCredentialsToken, registerClient, type RegisteredClient } from "../support/clients.js";
import { basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";

let server: TestServer;
let client: RegisteredClient;

beforeAll(async () => {
  server = await startTestServer({ storage: "embedded" });
  client = await registerClient(server, { name: "observed", scopes: ["read"] });
});
afterAll(async () => {
  await server?.destroy();
});

async function metrics(): Promise<string> {
  const response = await fetch(`${server.url}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

/** The value of one sample line, e.g. `name{a="b"}`; undefined when the line is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const introspect = (token: string) =>
  fetch(`${server.url}/oauth/introspect`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(client.clientId, client.clientSecret) },
    body: new URLSearchParams({ token }),
  });

describe("request ids", () => {
  it("are on every HTTP answer: success, refusal, unknown route, wrong method, 304 and revocation", async () => {
    const token = await clientCredentialsToken(server, client);
    const keys = await fetch(`${server.url}/keys`);
    const answers = [
      await introspect(token),
      await fetch(`${server.url}/oauth/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "grant_type=client_credentials" }),
      await fetch(`${server.url}/no/such/route`),
      await fetch(`${server.url}/oauth/token`),
      await fetch(`${server.url}/keys`, { headers: { "if-none-match": keys.headers.get("etag")! } }),
      await fetch(`${server.url}/oauth/revoke`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(client.clientId, client.clientSecret) },
        body: new URLSearchParams({ token }),
      }),
      await fetch(`${server.url}/healthz`),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([200, 401, 404, 405, 304, 200, 200]);
    const ids = answers.map((answer) => answer.headers.get("x-request-id"));
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
    // The other headers are still there beside it.
    expect(answers[0]!.headers.get("cache-control")).toBe("no-store");
    expect(answers[1]!.headers.get("www-authenticate")).toMatch(/^Basic /);
    expect(answers[3]!.headers.get("allow")).toBe("POST");
  });

  it("keep a well-formed incoming id, so a trace spans proxies, and replace a malformed one", async () => {
    const kept = await fetch(`${server.url}/healthz`, { headers: { "x-request-id": "edge-7f3a:42" } });
    expect(kept.headers.get("x-request-id")).toBe("edge-7f3a:42");
    const replaced = await fetch(`${server.url}/healthz`, { headers: { "x-request-id": "no spaces allowed" } });
    expect(replaced.headers.get("x-request-id")).toMatch(/^[A-Za-z0-9_-]{12}$/);
  });
});

describe("/metrics", () => {
  it("counts HTTP requests by route, method and status, with a latency histogram per route", async () => {
    const before = await metrics();
    const token = await clientCredentialsToken(server, client);
    for (let i = 0; i < 3; i++) expect((await introspect(token)).status).toBe(200);
    expect((await fetch(`${server.url}/no/such/route`)).status).toBe(404);
    const after = await metrics();

    const delta = (series: string) => (sample(after, series) ?? 0) - (sample(before, series) ?? 0);
    expect(delta('tessera_http_requests_total{route="/oauth/introspect",method="POST",status="200"}')).toBe(3);
    expect(delta('tessera_http_requests_total{route="/oauth/token",method="POST",status="200"}')).toBe(1);
    expect(delta('tessera_http_requests_total{route="unmatched",method="GET",status="404"}')).toBe(1);
    expect(delta(`tessera_tokens_issued_total{client_id="${client.clientId}",alg="RS256",grant_type="client_credentials"}`)).toBe(1);
    expect(after).toContain("# TYPE tessera_tokens_issued_total counter");
    expect(after).toContain("# TYPE tessera_http_requests_total counter");
    expect(after).toContain("# TYPE tessera_http_request_duration_seconds histogram");

    const route = 'route="/oauth/introspect"';
    const count = sample(after, `tessera_http_request_duration_seconds_count{${route}}`)!;
    expect(delta(`tessera_http_request_duration_seconds_count{${route}}`)).toBe(3);
    expect(sample(after, `tessera_http_request_duration_seconds_bucket{${route},le="+Inf"}`)).toBe(count);
    expect(sample(after, `tessera_http_request_duration_seconds_sum{${route}}`)).toBeGreaterThan(0);
    // Buckets are cumulative: never decreasing, ending at the count.
    const buckets = after
      .split("\n")
      .filter((line) => line.startsWith(`tessera_http_request_duration_seconds_bucket{${route},`))
      .map((line) => Number(line.slice(line.lastIndexOf(" ") + 1)));
    expect(buckets).toHaveLength(13);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
    expect(buckets.at(-1)).toBe(count);
  });

  it("counts RPCs by method and outcome code, with a latency histogram per RPC", async () => {
    const tokens = createClient(TokenService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }));
    const before = await metrics();
    await tokens.issueToken({ clientId: client.clientId, credential: { case: "clientSecret", value: client.clientSecret } });
    const refused = await tokens.issueToken({ clientId: client.clientId, credential: { case: "clientSecret", value: "wrong" } }).catch((error: unknown) => error);
    expect(ConnectError.from(refused).code).toBe(Code.Unauthenticated);
    const after = await metrics();

    const rpc = 'rpc="tessera.v1.TokenService/IssueToken"';
    const delta = (series: string) => (sample(after, series) ?? 0) - (sample(before, series) ?? 0);
    expect(delta(`tessera_tokens_issued_total{client_id="${client.clientId}",alg="RS256",grant_type="client_credentials"}`)).toBe(1);
    expect(delta(`tessera_rpc_requests_total{${rpc},code="ok"}`)).toBe(1);
    expect(delta(`tessera_rpc_requests_total{${rpc},code="Unauthenticated"}`)).toBe(1);
    expect(delta(`tessera_rpc_duration_seconds_count{${rpc}}`)).toBe(2);
    expect(sample(after, `tessera_rpc_duration_seconds_bucket{${rpc},le="+Inf"}`)).toBe(sample(after, `tessera_rpc_duration_seconds_count{${rpc}}`));
  });
});

describe("tracing", () => {
  it("sends a server span per HTTP request and per RPC to an SDK registered after start-up", async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    expect(trace.setGlobalTracerProvider(provider)).toBe(true);
    try {
      const token = await clientCredentialsToken(server, client);
      await introspect(token);
      await fetch(`${server.url}/oauth/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "grant_type=client_credentials" });
      const tokens = createClient(TokenService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }));
      await tokens.issueToken({ clientId: client.clientId, credential: { case: "clientSecret", value: client.clientSecret } });

      const spans = exporter.getFinishedSpans().map((span) => ({ name: span.name, kind: span.kind, status: span.status.code, attributes: span.attributes }));
      expect(spans).toEqual([
        { name: "POST /oauth/token", kind: SpanKind.SERVER, status: SpanStatusCode.UNSET, attributes: { "http.request.method": "POST", "url.path": "/oauth/token" } },
        { name: "POST /oauth/introspect", kind: SpanKind.SERVER, status: SpanStatusCode.UNSET, attributes: { "http.request.method": "POST", "url.path": "/oauth/introspect" } },
        { name: "POST /oauth/token", kind: SpanKind.SERVER, status: SpanStatusCode.ERROR, attributes: { "http.request.method": "POST", "url.path": "/oauth/token" } },
        {
          name: "tessera.v1.TokenService/IssueToken",
          kind: SpanKind.SERVER,
          status: SpanStatusCode.UNSET,
          attributes: { "rpc.system": "grpc", "rpc.service": "tessera.v1.TokenService", "rpc.method": "IssueToken" },
        },
      ]);
    } finally {
      trace.disable();
      await provider.shutdown();
    }
  });
});
