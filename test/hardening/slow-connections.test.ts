/**
 * Slow and stalled connections are dropped: every connection has a deadline for its first
 * bytes and headers, every request for its body, every HTTP/2 session for its idle time and
 * stream count, and every address a cap on its open connections — in cleartext and over TLS.
 * Deadlines are set to seconds here; the waits below are bounds, not timings.
 */
import { readdirSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health } from "../../src/gen/grpc/health/v1/health_pb.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { selfSignedCertificate, type TestCertificate } from "../support/tls.js";

/** The deadlines the servers below run with (seconds). */
const DEADLINES = { TESSERA_HEADERS_TIMEOUT: "2", TESSERA_REQUEST_TIMEOUT: "3", TESSERA_IDLE_TIMEOUT: "3" } as const;
/** Far past every deadline above: a connection still open then was held. */
const BOUND_MS = 25_000;

const SLOW_CONNECTIONS = 200;
const PER_IP_CAP = SLOW_CONNECTIONS;

/** Resolves when the socket closes, with whether it did within `ms`. */
function closedWithin(socket: net.Socket | tls.TLSSocket, ms: number): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** A connection that reads (and drops) what it is sent, so it sees the server close it. */
function connect(port: number, localAddress = "127.0.0.1"): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress }, () => resolve(socket));
    socket.resume();
    socket.on("error", () => {});
    socket.once("error", reject);
  });
}

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/** An HTTP/2 frame (RFC 9113 §4.1). */
function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/** HPACK literal header field without indexing, name from the static table (RFC 7541 §6.2.2). */
function literal(nameIndex: number, value: string): Buffer {
  const name = nameIndex < 15 ? Buffer.from([nameIndex]) : Buffer.from([0x0f, nameIndex - 15]);
  return Buffer.concat([name, Buffer.from([value.length]), Buffer.from(value, "latin1")]);
}

const FRAME = { HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, GOAWAY: 7 } as const;
const END_HEADERS = 0x4;
const ERROR = { REFUSED_STREAM: 7, CANCEL: 8 } as const;

describe("connection deadlines and caps, cleartext", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ storage: "embedded", env: { ...DEADLINES, TESSERA_MAX_CONNECTIONS_PER_IP: String(PER_IP_CAP) } });
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it(`closes ${SLOW_CONNECTIONS} HTTP/1.1 connections that trickle their headers or never send their body, and caps connections per address`, async () => {
    const fdsBefore = openFds();
    const sockets = await Promise.all(Array.from({ length: SLOW_CONNECTIONS }, () => connect(server.port)));
    const closed = sockets.map((socket) => closedWithin(socket, BOUND_MS));
    const trickles: NodeJS.Timeout[] = [];
    sockets.forEach((socket, i) => {
      if (i % 2 === 0) {
        // Headers a line at a time, each well inside any idle timeout, never finished.
        socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        let line = 0;
        const trickle = setInterval(() => {
          if (!socket.destroyed && line < 200) socket.write(`x-slow-${line++}: 1\r\n`);
        }, 250);
        trickles.push(trickle);
        socket.once("close", () => clearInterval(trickle));
      } else {
        // Complete headers, a body promised and never sent.
        socket.write("POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\ngrant_type=");
      }
    });

    // The cap is reached: one more connection from this address is closed at once, unanswered;
    // another address still gets in.
    const refused = await connect(server.port);
    let refusedGot = "";
    refused.on("data", (chunk: Buffer) => (refusedGot += chunk.toString("latin1")));
    refused.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    expect(await closedWithin(refused, BOUND_MS)).toBe(true);
    expect(refusedGot).toBe("");
    const other = await connect(server.port, "127.0.0.2");
    const answer = await new Promise<string>((resolve) => {
      let got = "";
      other.on("data", (chunk: Buffer) => {
        got += chunk.toString("latin1");
        if (got.includes("\r\n\r\n")) resolve(got);
      });
      other.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    other.destroy();

    const results = await Promise.all(closed);
    trickles.forEach(clearInterval);
    expect(results.filter((wasClosed) => !wasClosed)).toHaveLength(0);
    // Both ends of every connection live in this process: soon nothing is left of them.
    const settled = Date.now() + BOUND_MS;
    while (openFds() >= fdsBefore + 20 && Date.now() < settled) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(openFds()).toBeLessThan(fdsBefore + 20);

    // The slots are free again.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  }, 60_000);

  it("closes a connection that sends only part of the HTTP/2 preface", async () => {
    const socket = await connect(server.port);
    socket.write("PRI ");
    expect(await closedWithin(socket, BOUND_MS)).toBe(true);
  });

  it("closes a connection whose preface goes wrong after PRI", async () => {
    const socket = await connect(server.port);
    let got = "";
    socket.on("data", (chunk: Buffer) => (got += chunk.toString("latin1")));
    socket.write("PRI * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    expect(await closedWithin(socket, BOUND_MS)).toBe(true);
    expect(got).toBe("");
  });

  it("closes a connection that sends nothing", async () => {
    const socket = await connect(server.port);
    expect(await closedWithin(socket, BOUND_MS)).toBe(true);
  });

  it("resets an HTTP/2 stream whose request body never completes, and keeps the session", async () => {
    const session = http2.connect(server.url);
    session.on("error", () => {});
    try {
      const stream = session.request({ ":method": "POST", ":path": "/oauth/token", "content-type": "application/x-www-form-urlencoded" }, { endStream: false });
      stream.on("error", () => {});
      stream.write("grant_type=client_");
      const rstCode = await new Promise<number | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), BOUND_MS);
        stream.once("close", () => {
          clearTimeout(timer);
          resolve(stream.rstCode);
        });
      });
      expect(rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
      // The session still serves.
      const status = await new Promise<number>((resolve, reject) => {
        const request = session.request({ ":path": "/healthz" });
        request.on("response", (headers) => resolve(Number(headers[":status"])));
        request.on("error", reject);
        request.resume();
      });
      expect(status).toBe(200);
    } finally {
      session.destroy();
    }
  }, 40_000);

  it("refuses streams past 100 open at once on one session (REFUSED_STREAM)", async () => {
    const socket = await connect(server.port);
    const frames: { type: number; streamId: number; code: number }[] = [];
    let buffered = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) break;
        const type = buffered[3]!;
        const streamId = buffered.readUInt32BE(5) & 0x7fffffff;
        const payload = buffered.subarray(9, 9 + length);
        const code = type === FRAME.RST_STREAM ? payload.readUInt32BE(0) : type === FRAME.GOAWAY ? payload.readUInt32BE(4) : 0;
        frames.push({ type, streamId, code });
        buffered = buffered.subarray(9 + length);
      }
    });
    const headers = Buffer.concat([
      Buffer.from([0x83, 0x86]), // :method POST, :scheme http
      literal(4, "/oauth/token"),
      literal(1, "127.0.0.1"),
      literal(31, "application/x-www-form-urlencoded"),
    ]);
    const STREAMS = 150;
    const out = [Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), frame(FRAME.SETTINGS, 0, 0)];
    // Headers, no END_STREAM: each request waits for a body that never comes.
    for (let i = 0; i < STREAMS; i++) out.push(frame(FRAME.HEADERS, END_HEADERS, 1 + 2 * i, headers));
    socket.write(Buffer.concat(out));
    const deadline = Date.now() + BOUND_MS;
    const resets = () => frames.filter((f) => f.type === FRAME.RST_STREAM);
    while (resets().length < STREAMS && !socket.destroyed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    const refused = resets().filter((f) => f.code === ERROR.REFUSED_STREAM);
    const cancelled = resets().filter((f) => f.code === ERROR.CANCEL);
    // The 50 past the limit are refused; the 100 it took are reset at the request deadline.
    expect(refused).toHaveLength(STREAMS - 100);
    expect(cancelled).toHaveLength(100);
    expect(frames.filter((f) => f.type === FRAME.GOAWAY)).toEqual([]);
  }, 40_000);

  it("closes an HTTP/2 session that has had no open stream for the idle timeout", async () => {
    const session = http2.connect(server.url);
    session.on("error", () => {});
    const closed = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), BOUND_MS);
      session.once("close", () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    expect(closed).toBe(true);
  }, 40_000);

  it("keeps a quiet health Watch stream open past the request and idle timeouts", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.url }));
    const abort = new AbortController();
    const updates = health.watch({ service: "" }, { signal: abort.signal })[Symbol.asyncIterator]();
    try {
      expect((await updates.next()).value?.status).toBe(1);
      // Longer than the request and idle timeouts (3 s each): nothing may end the stream.
      const next = updates.next().then(
        () => "ended",
        () => "failed",
      );
      const outcome = await Promise.race([next, new Promise((resolve) => setTimeout(() => resolve("still open"), 5_000))]);
      expect(outcome).toBe("still open");
    } finally {
      abort.abort();
    }
  }, 40_000);
});

describe("the per-address connection cap behind a trusted proxy", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      storage: "embedded",
      env: { ...DEADLINES, TESSERA_MAX_CONNECTIONS_PER_IP: "3", TESSERA_TRUSTED_PROXIES: "127.0.0.3" },
    });
  });
  afterAll(async () => {
    await server?.destroy();
  });

  /** Whether the server answers /healthz on a connection from `localAddress`. */
  async function answers(localAddress: string): Promise<{ socket: net.Socket; answered: boolean }> {
    const socket = await connect(server.port, localAddress);
    const answered = await new Promise<boolean>((resolve) => {
      let got = "";
      socket.on("data", (chunk: Buffer) => {
        got += chunk.toString("latin1");
        if (got.includes("\r\n\r\n")) resolve(/^HTTP\/1\.1 200 /.test(got));
      });
      socket.once("close", () => resolve(false));
      socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    });
    return { socket, answered };
  }

  it("does not cap a trusted proxy, which carries many callers' connections, but still caps everyone else", async () => {
    const fromProxy = await Promise.all(Array.from({ length: 6 }, () => answers("127.0.0.3")));
    expect(fromProxy.map((connection) => connection.answered)).toEqual(Array(6).fill(true));
    const direct = [];
    for (let i = 0; i < 4; i++) direct.push(await answers("127.0.0.4"));
    expect(direct.map((connection) => connection.answered)).toEqual([true, true, true, false]);
    for (const connection of [...fromProxy, ...direct]) connection.socket.destroy();
  });
});

describe("connection deadlines and caps, over TLS", () => {
  let server: TestServer;
  let certificate: TestCertificate;
  let ca: Buffer;

  beforeAll(async () => {
    certificate = selfSignedCertificate();
    ca = certificate.ca;
    server = await startTestServer({
      storage: "embedded",
      env: { ...DEADLINES, TESSERA_MAX_CONNECTIONS_PER_IP: "20", TESSERA_MAX_CONNECTIONS: "25", ...certificate.env },
    });
  });
  afterAll(async () => {
    await server?.destroy();
    certificate?.remove();
  });

  it("closes a TCP connection that never starts the TLS handshake", async () => {
    const socket = await connect(server.port);
    expect(await closedWithin(socket, BOUND_MS)).toBe(true);
  });

  it("closes HTTP/1.1 connections that send nothing, trickle their headers or never send their body", async () => {
    const silent = await connectTls(["http/1.1"]);
    const trickling = await connectTls(["http/1.1"]);
    const bodiless = await connectTls(["http/1.1"]);
    const closed = [silent, trickling, bodiless].map((socket) => closedWithin(socket, BOUND_MS));
    trickling.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    let line = 0;
    const trickle = setInterval(() => {
      if (!trickling.destroyed && line < 200) trickling.write(`x-slow-${line++}: 1\r\n`);
    }, 250);
    bodiless.write("POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\n");
    const results = await Promise.all(closed);
    clearInterval(trickle);
    expect(results).toEqual([true, true, true]);
  }, 40_000);

  it("resets an HTTP/2 stream whose request body never completes", async () => {
    const session = http2.connect(server.url.replace("http:", "https:"), { ca });
    session.on("error", () => {});
    try {
      const stream = session.request({ ":method": "POST", ":path": "/oauth/token", "content-type": "application/x-www-form-urlencoded" }, { endStream: false });
      stream.on("error", () => {});
      stream.write("grant_type=");
      const rstCode = await new Promise<number | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), BOUND_MS);
        stream.once("close", () => {
          clearTimeout(timer);
          resolve(stream.rstCode);
        });
      });
      expect(rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
    } finally {
      session.destroy();
    }
  }, 40_000);

  function connectTls(alpn: string[], localAddress = "127.0.0.1"): Promise<tls.TLSSocket> {
    return new Promise((resolve, reject) => {
      const tcp = net.connect({ host: "127.0.0.1", port: server.port, localAddress });
      tcp.on("error", () => {});
      const socket = tls.connect({ socket: tcp, host: "127.0.0.1", ca, ALPNProtocols: alpn }, () => resolve(socket));
      socket.resume();
      socket.on("error", () => {});
      socket.once("error", reject);
    });
  }

  it("caps TLS connections per address, and in all", async () => {
    // Handshaken HTTP/2 connections, held for the idle timeout; the next one gets no handshake.
    const held = await Promise.all(Array.from({ length: 20 }, () => connectTls(["h2"])));
    await expect(connectTls(["h2"])).rejects.toThrow();
    // Another address gets in, up to the cap on all connections (25).
    held.push(...(await Promise.all(Array.from({ length: 5 }, () => connectTls(["h2"], "127.0.0.2")))));
    await expect(connectTls(["h2"], "127.0.0.3")).rejects.toThrow();
    held.forEach((socket) => socket.destroy());
  });
});
