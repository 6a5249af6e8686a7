/**
 * The bench's h2load driver: how it would install h2load (checked by the command it builds, not
 * by uninstalling), the request it sends, and real h2load runs against a local server that
 * refuses some calls — which must come back as a void row with the counts.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureH2load, findOnPath, grpcFrame, h2loadArgs, h2loadInstallCommand, h2loadRun, parseH2loadOutput, type H2loadTarget } from "../../bench/h2load.js";
import { voidReason } from "../../bench/report.js";
import { parseRpcCounts, rpcOutcomes } from "../../bench/rpc-metrics.js";

describe("installing h2load", () => {
  it("runs apt-get non-interactively as root, without sudo", () => {
    const install = h2loadInstallCommand({ isRoot: true });
    expect([install.command, ...install.args]).toEqual(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-o", "DPkg::Lock::Timeout=120", "install", "-y", "--no-install-recommends", "nghttp2-client"]);
    expect(install.display).toBe("env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y --no-install-recommends nghttp2-client");
  });

  it("goes through sudo -n (never a password prompt) when not root, keeping DEBIAN_FRONTEND past sudo", () => {
    const install = h2loadInstallCommand({ isRoot: false });
    expect([install.command, ...install.args]).toEqual(["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-o", "DPkg::Lock::Timeout=120", "install", "-y", "--no-install-recommends", "nghttp2-client"]);
  });

  it("looks for h2load on PATH and finds nothing where it is not", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tessera-h2load-path-"));
    try {
      writeFileSync(path.join(dir, "h2load"), "#!/bin/sh\n");
      chmodSync(path.join(dir, "h2load"), 0o755);
      expect(findOnPath("h2load", `/nonexistent${path.delimiter}${dir}`)).toBe(path.join(dir, "h2load"));
      expect(findOnPath("h2load", "/nonexistent")).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the request h2load sends", () => {
  const base = { connections: 8, seconds: 4, bodyFile: "/tmp/body", logFile: "/tmp/log", timeoutSeconds: 10 };

  it("speaks HTTP/1.1 one request at a time per connection with --h1", () => {
    const args = h2loadArgs({ url: "http://127.0.0.1:1/oauth/token", protocol: "http/1.1", streamsPerConnection: 16, headers: { authorization: "Basic x" }, body: new Uint8Array() }, base);
    expect(args[0]).toBe("--h1");
    expect(args.join(" ")).toContain("--clients 8 --threads 1 --max-concurrent-streams 1 --duration 4000ms");
    expect(args.join(" ")).toContain("--header authorization: Basic x");
    expect(args.at(-1)).toBe("http://127.0.0.1:1/oauth/token");
  });

  it("speaks h2c with several streams per connection for gRPC, durations in whole milliseconds", () => {
    const args = h2loadArgs({ url: "http://127.0.0.1:1/a.B/C", protocol: "h2c", streamsPerConnection: 16, headers: {}, body: new Uint8Array() }, { ...base, seconds: 0.25 });
    expect(args).not.toContain("--h1");
    expect(args.join(" ")).toContain("--max-concurrent-streams 16 --duration 250ms");
  });

  it("wraps a gRPC message in the 5-byte envelope: not compressed, big-endian length", () => {
    expect([...grpcFrame(new Uint8Array([7, 8, 9]))]).toEqual([0, 0, 0, 0, 3, 7, 8, 9]);
  });

  it("reads h2load's summary", () => {
    const summary = parseH2loadOutput(
      [
        "finished in 2.01s, 2833.50 req/s, 499.89KB/s",
        "requests: 5667 total, 5795 started, 5667 done, 5660 succeeded, 7 failed, 3 errored, 2 timeout",
        "status codes: 5650 2xx, 1 3xx, 9 4xx, 0 5xx",
      ].join("\n"),
    );
    expect(summary).toEqual({
      seconds: 2.01,
      requestsPerSecond: 2834,
      total: 5667,
      started: 5795,
      done: 5667,
      succeeded: 5660,
      failed: 7,
      errored: 3,
      timeout: 2,
      status: { "2xx": 5650, "3xx": 1, "4xx": 9, "5xx": 0 },
    });
    expect(() => parseH2loadOutput("h2load: connection refused")).toThrow(/no summary/);
  });
});

describe("gRPC outcomes from Tessera's RPC counters", () => {
  const exposition = [
    "# TYPE tessera_rpc_requests_total counter",
    'tessera_rpc_requests_total{rpc="tessera.v1.ClientAdminService/CreateClient",code="ok"} 1',
    'tessera_rpc_requests_total{rpc="tessera.v1.IntrospectionService/AuthenticateToken",code="ok"} 5795',
    'tessera_rpc_requests_total{rpc="tessera.v1.IntrospectionService/AuthenticateToken",code="Unauthenticated"} 2',
  ].join("\n");

  it("reads the counts of one RPC by code", () => {
    expect(parseRpcCounts(exposition, "tessera.v1.IntrospectionService/AuthenticateToken")).toEqual({ ok: 5795, Unauthenticated: 2 });
    expect(parseRpcCounts(exposition, "tessera.v1.TokenService/IssueToken")).toEqual({});
  });

  it("counts what changed, and accepts an OK count between h2load's succeeded and started calls", () => {
    expect(rpcOutcomes({ ok: 100 }, { ok: 1_228 }, { succeeded: 1_000, started: 1_128 })).toEqual({ ok: 1_128, notOk: {} });
    expect(rpcOutcomes({ ok: 100, Unauthenticated: 2 }, { ok: 1_100, Unauthenticated: 5 }, { succeeded: 1_000, started: 1_003 })).toEqual({ ok: 1_000, notOk: { Unauthenticated: 3 } });
  });

  it("says so when the server counted fewer OK calls than h2load saw succeed (calls it never counted)", () => {
    expect(rpcOutcomes({}, {}, { succeeded: 1_000, started: 1_016 }).mismatch).toBe("server counted 0 calls, h2load 1000 completed of 1016 started");
    expect(rpcOutcomes({ ok: 5 }, { ok: 2_000 }, { succeeded: 1_000, started: 1_016 }).mismatch).toBe("server counted 1995 calls, h2load 1000 completed of 1016 started");
  });
});

describe("h2load runs against a server that refuses some calls", () => {
  let binary: string | undefined;
  let seen = 0;
  let served = { ok: 0, refused: 0 };
  /** Every 50th call is refused with 429, as a rate limit would. */
  const answer = (request: IncomingMessage | http2.Http2ServerRequest, response: ServerResponse | http2.Http2ServerResponse) => {
    request.resume();
    request.on("end", () => {
      seen++;
      const refused = seen % 50 === 0;
      response.writeHead(refused ? 429 : 200, { "content-type": "text/plain" });
      response.end("ok");
      if (refused) served.refused++;
      else served.ok++;
    });
  };
  const h1 = http.createServer(answer);
  const h2c = http2.createServer(answer);
  const urlOf = (server: http.Server | http2.Http2Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  beforeAll(async () => {
    // As the bench does: Debian's nghttp2-client is installed when h2load is missing (which
    // takes a while on a fresh machine, hence the hook's timeout).
    const h2load = ensureH2load((message) => process.stderr.write(`${message}\n`));
    binary = "binary" in h2load ? h2load.binary : undefined;
    await Promise.all([h1, h2c].map((server) => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))));
  }, 300_000);
  afterAll(async () => {
    h1.closeAllConnections();
    await Promise.all([h1, h2c].map((server) => new Promise((resolve) => server.close(resolve))));
  });

  it("finds h2load on this machine, installing Debian's nghttp2-client when it is missing", () => {
    expect(binary, "h2load must be on PATH: apt-get install nghttp2-client").toBeDefined();
  });

  for (const protocol of ["http/1.1", "h2c"] as const) {
    it(`counts the refusals over ${protocol}, and the row is void with them`, async () => {
      const target: H2loadTarget = { url: urlOf(protocol === "h2c" ? h2c : h1), protocol, streamsPerConnection: 4, headers: { "content-type": "text/plain" }, body: Buffer.from("x") };
      let measuring = false;
      const result = await h2loadRun({
        binary: binary!,
        target,
        connections: 2,
        durationSeconds: 1,
        warmupSeconds: 0.2,
        onMeasureStart: () => {
          measuring = true;
          served = { ok: 0, refused: 0 };
        },
      });
      expect(measuring).toBe(true);
      expect(result.requests).toBeGreaterThan(100);
      // The row's calls are the 2xx answers the server sent while it was measured, give or take
      // the calls in flight (2 connections × 4 streams) when the warm-up and the run stopped.
      expect(result.requests).toBeLessThanOrEqual(served.ok);
      expect(result.requests).toBeGreaterThanOrEqual(served.ok - 2 * 2 * 4);
      expect(result.statusCodes["4xx"]).toBeLessThanOrEqual(served.refused);
      expect(result.statusCodes["4xx"]).toBeGreaterThan(0);
      expect(result.errors).toBeGreaterThanOrEqual(result.statusCodes["4xx"]!);
      expect(result.p99Ms).toBeGreaterThanOrEqual(result.p50Ms);
      expect(voidReason({ ...result, statusCodes: result.statusCodes })).toContain("× 4xx");
    });
  }
});
