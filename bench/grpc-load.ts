/**
 * A gRPC load client for `npm run bench`, run as its own process: grpc-js stubs built from our
 * .proto files at run time (as any polyglot caller would), a fixed number of unary calls in
 * flight over a few HTTP/2 channels for warm-up plus duration. Calls that start during warm-up
 * are not counted. Prints one JSON object on stdout:
 * { requestsPerSecond, p50Ms, p99Ms, errors, calls, requests, completedIncludingWarmup, errorCodes }.
 *
 *   node --import tsx bench/grpc-load.ts --address 127.0.0.1:8080 --rpc IssueToken|AuthenticateToken \
 *     --clients clients.json [--token-file tokens.json] [--concurrency 32] [--channels 4] [--duration 8] [--warmup 2]
 *
 * clients.json: [{ "clientId", "clientSecret" }]; calls rotate over them. For AuthenticateToken,
 * tokens.json holds one access token per client (same order): each client, authenticated with
 * Basic credentials in the metadata, checks its own token.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { percentile } from "./stats.js";

const PROTO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../proto");

const { values } = parseArgs({
  options: {
    address: { type: "string" },
    rpc: { type: "string" },
    clients: { type: "string" },
    "token-file": { type: "string" },
    concurrency: { type: "string", default: "32" },
    channels: { type: "string", default: "4" },
    duration: { type: "string", default: "8" },
    warmup: { type: "string", default: "2" },
  },
});
const address = values.address!;
const rpc = values.rpc;
if (rpc !== "IssueToken" && rpc !== "AuthenticateToken") throw new Error("--rpc must be IssueToken or AuthenticateToken");
const clients = JSON.parse(readFileSync(values.clients!, "utf8")) as { clientId: string; clientSecret: string }[];
const tokens = values["token-file"] ? (JSON.parse(readFileSync(values["token-file"], "utf8")) as string[]) : [];
const concurrency = Number(values.concurrency);
const durationMs = Number(values.duration) * 1000;
const warmupMs = Number(values.warmup) * 1000;

type Constructor = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => grpc.Client;
const file = rpc === "IssueToken" ? "tessera/v1/token_service.proto" : "tessera/v1/introspection_service.proto";
const definition = protoLoader.loadSync(path.join(PROTO_ROOT, file), { includeDirs: [PROTO_ROOT], keepCase: false, longs: String, enums: String, defaults: true, oneofs: true });
const v1 = (grpc.loadPackageDefinition(definition).tessera as grpc.GrpcObject).v1 as grpc.GrpcObject;
const Service = v1[rpc === "IssueToken" ? "TokenService" : "IntrospectionService"] as unknown as Constructor;
// One connection per channel: without a local subchannel pool, grpc-js would share one.
const channels = Array.from({ length: Number(values.channels) }, () =>
  new Service(address, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }),
);

const basic = clients.map((client) => {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString("base64")}`);
  return metadata;
});

function call(index: number): Promise<void> {
  const stub = channels[index % channels.length] as unknown as Record<string, (request: object, metadata: grpc.Metadata, callback: (error: grpc.ServiceError | null) => void) => void>;
  const clientIndex = index % clients.length;
  const client = clients[clientIndex]!;
  return new Promise((resolve, reject) => {
    const done = (error: grpc.ServiceError | null) => (error ? reject(error) : resolve());
    if (rpc === "IssueToken") {
      stub.issueToken!.call(stub, { grantType: "GRANT_TYPE_CLIENT_CREDENTIALS", clientId: client.clientId, clientSecret: client.clientSecret }, new grpc.Metadata(), done);
    } else {
      stub.authenticateToken!.call(stub, { token: tokens[clientIndex], requiredScopes: ["bench:read"] }, basic[clientIndex]!, done);
    }
  });
}

await Promise.all(channels.map((channel) => new Promise<void>((resolve, reject) => channel.waitForReady(Date.now() + 10_000, (error) => (error ? reject(error) : resolve())))));

const latencies: number[] = [];
const errorCodes: Record<string, number> = {};
let errors = 0;
let completed = 0;
let sequence = 0;
const warmupEnds = performance.now() + warmupMs;
const ends = warmupEnds + durationMs;
async function worker(): Promise<void> {
  while (performance.now() < ends) {
    const started = performance.now();
    try {
      await call(sequence++);
      completed++;
      if (started >= warmupEnds) latencies.push(performance.now() - started);
    } catch (error) {
      if (started < warmupEnds) continue;
      errors++;
      const code = grpc.status[(error as grpc.ServiceError).code] ?? "UNKNOWN";
      errorCodes[code] = (errorCodes[code] ?? 0) + 1;
    }
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
for (const channel of channels) channel.close();

latencies.sort((a, b) => a - b);
process.stdout.write(
  `${JSON.stringify({
    requestsPerSecond: Math.round(latencies.length / (durationMs / 1000)),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    errors,
    calls: latencies.length + errors,
    requests: latencies.length,
    /** Successful calls including the warm-up's, for CPU-per-call figures taken over the whole run. */
    completedIncludingWarmup: completed,
    errorCodes,
    concurrency,
    channels: channels.length,
  })}\n`,
);
