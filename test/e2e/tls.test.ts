/**
 * With TESSERA_TLS_CERT/TESSERA_TLS_KEY the one port speaks TLS, and ALPN picks HTTP/2 (gRPC)
 * or HTTP/1.1 (OAuth gateway, Connect, gRPC-Web) per connection.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http2 from "node:http2";
import https from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health } from "../../src/gen/grpc/health/v1/health_pb.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

describe("Tessera over TLS", () => {
  let server: TestServer;
  let dir: string;
  let ca: Buffer;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "tessera-tls-"));
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
      "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem"),
    ], { stdio: "ignore" });
    ca = readFileSync(path.join(dir, "cert.pem"));
    server = await startTestServer({
      storage: "embedded",
      env: { TESSERA_TLS_CERT: path.join(dir, "cert.pem"), TESSERA_TLS_KEY: path.join(dir, "key.pem") },
    });
  });
  afterAll(async () => {
    await server?.destroy();
    rmSync(dir, { recursive: true, force: true });
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
