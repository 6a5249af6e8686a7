/**
 * The transport floor for `npm run bench`: what Node itself spends per call to read a small POST
 * and send a small answer, over HTTP/1.1 (node:http) and over h2c shaped as a gRPC unary call
 * (node:http2's stream API: response headers, one DATA frame, trailers with grpc-status). No
 * routing, parsing, authentication or encoding. The two floor-transport-* rows, driven by h2load
 * exactly as the h2load-* rows drive Tessera, show how much of the gRPC/HTTP ratio is Node's
 * HTTP/2 stack rather than Tessera's code.
 * Prints `{"ready":true,"port":…,"h2Port":…}` on stdout once both listen.
 *
 *   TFLOOR_PORT=… TFLOOR_H2_PORT=… node --import tsx bench/transport-floor-server.ts
 */
import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";

/** About the size of an introspection answer (JSON) and of an AuthenticateTokenResponse (protobuf). */
const JSON_ANSWER = Buffer.from(JSON.stringify({ active: true, scope: "bench:read", client_id: "x".repeat(22), token_type: "Bearer", exp: 1, iat: 1, nbf: 1, sub: "x".repeat(22), aud: "http://127.0.0.1:1", iss: "http://127.0.0.1:1", jti: "x".repeat(22) }));
const GRPC_ANSWER = Buffer.alloc(5 + 120, 0x61);
GRPC_ANSWER.writeUInt32BE(120, 1);
GRPC_ANSWER[0] = 0;

const http1 = http.createServer((request, response) => {
  request.on("data", () => {});
  request.on("end", () => {
    response.writeHead(200, { "content-type": "application/json", "content-length": JSON_ANSWER.byteLength, "cache-control": "no-store" });
    response.end(JSON_ANSWER);
  });
});

const h2c = http2.createServer();
h2c.on("stream", (stream) => {
  stream.on("data", () => {});
  stream.on("end", () => {
    stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.end(GRPC_ANSWER);
  });
});

const listening = (server: http.Server | http2.Http2Server, port: number) =>
  new Promise<number>((resolve) => server.listen(port, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
const [port, h2Port] = await Promise.all([listening(http1, Number(process.env.TFLOOR_PORT ?? "0")), listening(h2c, Number(process.env.TFLOOR_H2_PORT ?? "0"))]);
process.stdout.write(`${JSON.stringify({ ready: true, port, h2Port })}\n`);
process.once("SIGTERM", () => {
  h2c.close();
  http1.close(() => process.exit(0));
});
