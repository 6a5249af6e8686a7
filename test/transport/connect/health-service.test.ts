/**
 * grpc.health.v1.Health served by connect-node over h2c, called with @grpc/grpc-js the way
 * grpc-health-probe and Kubernetes gRPC probes call it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Health } from "../../../src/gen/grpc/health/v1/health_pb.js";
import { HealthStatus, ServingStatus, healthServiceImpl } from "../../../src/transport/connect/health-service.js";
import { grpc, protoClient, startH2cServer, unary, type H2cServer } from "./h2c.js";

interface HealthCheckResponse {
  status: string;
}

/** The messages of a server stream, one at a time, and how the stream ended. */
function reader<T>(call: grpc.ClientReadableStream<T>) {
  const buffered: T[] = [];
  const waiting: ((message: T) => void)[] = [];
  call.on("data", (message: T) => {
    const next = waiting.shift();
    if (next) next(message);
    else buffered.push(message);
  });
  const ended = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  call.on("error", () => {}); // The status above carries it.
  return {
    next(): Promise<T> {
      const message = buffered.shift();
      if (message !== undefined) return Promise.resolve(message);
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no message within 5s")), 5000);
        waiting.push((value) => {
          clearTimeout(timer);
          resolve(value);
        });
      });
    },
    ended,
  };
}

function watch(client: grpc.Client, service: string): grpc.ClientReadableStream<HealthCheckResponse> {
  return (client as unknown as { watch(request: object): grpc.ClientReadableStream<HealthCheckResponse> }).watch({ service });
}

/** Resolves once the server-side Watch handlers have noticed their clients went away. */
async function until(predicate: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 200 && !predicate(); attempt++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(predicate()).toBe(true);
}

describe("grpc.health.v1.Health over h2c", () => {
  let status: HealthStatus;
  let server: H2cServer;
  let client: grpc.Client;

  beforeAll(async () => {
    status = new HealthStatus();
    server = await startH2cServer((router) => router.service(Health, healthServiceImpl(status)));
    client = protoClient("grpc/health/v1/health.proto", "grpc.health.v1.Health", server.address);
  });
  afterEach(() => {
    status.set("", "SERVING");
    status.set("tessera.v1.TokenService", "SERVING");
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
  });

  it("Check answers the server's and a service's status, and NOT_FOUND for an unknown service", async () => {
    status.set("", "SERVING");
    status.set("tessera.v1.TokenService", ServingStatus.NOT_SERVING);
    await expect(unary<HealthCheckResponse>(client, "check", { service: "" })).resolves.toEqual({ status: "SERVING" });
    await expect(unary<HealthCheckResponse>(client, "check", { service: "tessera.v1.TokenService" })).resolves.toEqual({ status: "NOT_SERVING" });
    await expect(unary(client, "check", { service: "no.such.Service" })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it("List answers every service's status", async () => {
    status.set("", "SERVING");
    status.set("tessera.v1.TokenService", "NOT_SERVING");
    const response = await unary<{ statuses: Record<string, HealthCheckResponse> }>(client, "list", {});
    expect(response.statuses).toEqual({ "": { status: "SERVING" }, "tessera.v1.TokenService": { status: "NOT_SERVING" } });
  });

  it("Watch sends the current status at once, then each change, until the client cancels", async () => {
    status.set("tessera.v1.TokenService", "SERVING");
    const call = watch(client, "tessera.v1.TokenService");
    const messages = reader(call);
    expect(await messages.next()).toEqual({ status: "SERVING" });
    status.set("tessera.v1.TokenService", "NOT_SERVING");
    expect(await messages.next()).toEqual({ status: "NOT_SERVING" });
    status.set("", "NOT_SERVING"); // Another service: not sent on this stream.
    status.set("tessera.v1.TokenService", "SERVING");
    expect(await messages.next()).toEqual({ status: "SERVING" });
    call.cancel();
    expect((await messages.ended).code).toBe(grpc.status.CANCELLED);
    await until(() => status.watching === 0);
  });

  it("Watch reports SERVICE_UNKNOWN for an unknown service without failing, then its status once set", async () => {
    const call = watch(client, "later.v1.Service");
    const messages = reader(call);
    expect(await messages.next()).toEqual({ status: "SERVICE_UNKNOWN" });
    status.set("later.v1.Service", "SERVING");
    expect(await messages.next()).toEqual({ status: "SERVING" });
    call.cancel();
    await messages.ended;
    await until(() => status.watching === 0);
  });
});

describe("HealthStatus.shutdown", () => {
  it("sets every service NOT_SERVING, ends Watch streams with OK, and ignores later updates", async () => {
    const status = new HealthStatus();
    status.set("", "SERVING");
    status.set("tessera.v1.TokenService", "SERVING");
    const server = await startH2cServer((router) => router.service(Health, healthServiceImpl(status)));
    const client = protoClient("grpc/health/v1/health.proto", "grpc.health.v1.Health", server.address);
    try {
      const whole = reader(watch(client, ""));
      const token = reader(watch(client, "tessera.v1.TokenService"));
      expect(await whole.next()).toEqual({ status: "SERVING" });
      expect(await token.next()).toEqual({ status: "SERVING" });

      status.shutdown();
      expect(await whole.next()).toEqual({ status: "NOT_SERVING" });
      expect(await token.next()).toEqual({ status: "NOT_SERVING" });
      expect((await whole.ended).code).toBe(grpc.status.OK);
      expect((await token.ended).code).toBe(grpc.status.OK);
      expect(status.watching).toBe(0);

      status.set("", "SERVING");
      await expect(unary<HealthCheckResponse>(client, "check", { service: "" })).resolves.toEqual({ status: "NOT_SERVING" });
      // A Watch after shutdown gets the final status and ends at once.
      const late = reader(watch(client, "tessera.v1.TokenService"));
      expect(await late.next()).toEqual({ status: "NOT_SERVING" });
      expect((await late.ended).code).toBe(grpc.status.OK);
    } finally {
      client.close();
      await server.close();
    }
  });
});
