/**
 * A client that goes away mid-request is no server error: the request is dropped with a debug
 * line, nothing is answered, nothing is counted as a 500, and the server keeps serving — on the
 * HTTP gateway, Connect, gRPC-Web and gRPC, over HTTP/1.1 and HTTP/2.
 */
import http2 from "node:http2";
import net from "node:net";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/test-server.js";

const logs: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, callback) {
    logs.push(...chunk.toString("utf8").split("\n").filter((line) => line !== ""));
    callback();
  },
});

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ storage: "embedded", env: { TESSERA_LOG_LEVEL: "debug" }, logDestination: sink });
});
afterAll(async () => {
  await server?.destroy();
});

/** Sends the head and part of the body, then closes the connection once the server has read them. */
async function abortHttp1(head: string, partialBody: string): Promise<string> {
  const socket = net.connect({ host: "127.0.0.1", port: server.port });
  let answer = "";
  socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
  socket.on("error", () => {});
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  socket.write(head + partialBody);
  await new Promise((resolve) => setTimeout(resolve, 200));
  socket.destroy();
  return answer;
}

/** Opens an HTTP/2 stream, sends part of the body, then resets the stream (RST_STREAM CANCEL). */
async function abortHttp2(headers: http2.OutgoingHttpHeaders, partialBody: Buffer | string): Promise<void> {
  const session = http2.connect(server.url);
  session.on("error", () => {});
  try {
    const stream = session.request({ ":method": "POST", ...headers }, { endStream: false });
    stream.on("error", () => {});
    stream.write(partialBody);
    await new Promise((resolve) => setTimeout(resolve, 200));
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await new Promise((resolve) => setTimeout(resolve, 100));
  } finally {
    session.destroy();
  }
}

function levelsSince(mark: number): string[] {
  return logs.slice(mark).map((line) => (JSON.parse(line) as { level: string }).level);
}

async function serverErrorsCounted(): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return text
    .split("\n")
    .filter((line) => line.startsWith("tessera_http_requests_total") && line.includes('status="500"'))
    .reduce((sum, line) => sum + Number(line.split(" ").pop()), 0);
}

describe("a client that disconnects mid-request", () => {
  it.each([
    ["/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_cred"],
    ["/oauth/introspect", "application/x-www-form-urlencoded", "token=eyJ"],
    ["/oauth/revoke", "application/x-www-form-urlencoded", "token=eyJ"],
    ["/tessera.v1.TokenService/IssueToken", "application/json", '{"clientId":"a'],
    ["/tessera.v1.TokenService/IssueToken", "application/grpc-web+proto", "\u0000\u0000\u0000"],
  ])("over HTTP/1.1 to %s (%s) is logged below error, never answered 500", async (path, contentType, partialBody) => {
    const mark = logs.length;
    const before = await serverErrorsCounted();
    const answer = await abortHttp1(
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${contentType}\r\nContent-Length: 200\r\n\r\n`,
      partialBody,
    );
    expect(answer).toBe("");
    // The server keeps serving, and by then has dealt with the aborted request.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(levelsSince(mark).filter((level) => level === "error" || level === "fatal" || level === "warn")).toEqual([]);
    expect(await serverErrorsCounted()).toBe(before);
  });

  it.each([
    ["/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_cred"],
    ["/tessera.v1.TokenService/IssueToken", "application/json", '{"clientId":"a'],
    ["/tessera.v1.TokenService/IssueToken", "application/grpc", Buffer.from([0, 0, 0, 0, 50, 10])],
    ["/tessera.v1.TokenService/IssueToken", "application/grpc+json", Buffer.from([0, 0, 0, 0, 50, 123])],
  ])("over HTTP/2 to %s (%s) is logged below error, never answered 500", async (path, contentType, partialBody) => {
    const mark = logs.length;
    const before = await serverErrorsCounted();
    await abortHttp2({ ":path": path, "content-type": contentType }, partialBody);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(levelsSince(mark).filter((level) => level === "error" || level === "fatal" || level === "warn")).toEqual([]);
    expect(await serverErrorsCounted()).toBe(before);
  });

  it("is logged at debug as an aborted request", () => {
    expect(logs.some((line) => line.includes('"msg":"http request aborted by the client"') && line.includes('"level":"debug"'))).toBe(true);
  });
});
