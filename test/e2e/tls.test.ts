/**
 * With TESSERA_TLS_CERT/TESSERA_TLS_KEY the one port speaks TLS, and ALPN picks HTTP/2 (gRPC)
 * or HTTP/1.1 (OAuth gateway, Connect, gRPC-Web) per connection.
 */
import http2 from "node:http2";
import https from "node:https";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health } from "../../src/gen/grpc/health/v1/health_pb.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { selfSignedCertificate, type TestCertificate } from "../support/tls.js";

describe("Tessera over TLS", () => {
  let server: TestServer;
  let certificate: TestCertificate;
  let ca: Buffer;

  beforeAll(async () => {
    certificate = selfSignedCertificate();
    ca = certificate.ca;
    server = await startTestServer({
      storage: "embedded",
      env: { ...certificate.env },
    });
  });
  afterAll(async () => {
    await server?.destroy();
    certificate?.remove();
  });

  it("answers HTTP/1.1 callers over TLS", async () => {
    const body = await new Promise<{ status: number; alpn: string | false | null; text: string }>((resolve, reject) => {
      const request = https.get({ host: "127.0.0.1", port: server.port, path: "/healthz", ca, ALPNProtocols: ["http/1.1"] } as https.RequestOptions, (response) => {
        let text = "";
        const alpn = (response.socket as import("node:tls").TLSSocket).alpnProtocol;
        response.on("data", (chunk) => (text += chunk));
        response.on("end", () => resolve({ status: response.statusCode!, alpn, text }));
      });
      request.on("error", reject);
    });
    expect(body).toEqual({ status: 200, alpn: "http/1.1", text: '{"status":"ok"}' });
  });

  it("negotiates HTTP/2 by ALPN and serves gRPC", async () => {
    const session = http2.connect(`https://127.0.0.1:${server.port}`, { ca });
    try {
      await new Promise<void>((resolve, reject) => session.once("connect", () => resolve()).once("error", reject));
      expect(session.alpnProtocol).toBe("h2");
    } finally {
      session.close();
    }
    const health = createClient(Health, createGrpcTransport({ baseUrl: `https://127.0.0.1:${server.port}`, nodeOptions: { ca } }));
    expect((await health.check({ service: "" })).status).toBe(1);
  });
});
