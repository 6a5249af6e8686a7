/**
 * gRPC server reflection and health, as grpcurl and Kubernetes probes use them: listing the
 * services, fetching their descriptors with every dependency, and watching health.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpcClient } from "../support/grpc-clients.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const PROTO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../proto");

interface ReflectionResponse {
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

function reflectionClient(address: string, version: "v1" | "v1alpha"): grpc.Client {
  const definition = protoLoader.loadSync(path.join(PROTO_ROOT, `grpc/reflection/${version}/reflection.proto`), { includeDirs: [PROTO_ROOT], keepCase: false, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as Record<string, Record<string, Record<string, Record<string, new (a: string, c: grpc.ChannelCredentials) => grpc.Client>>>>;
  return new pkg.grpc!.reflection![version]!.ServerReflection!(address, grpc.credentials.createInsecure());
}

/** One request on the bidi stream, as grpcurl sends it. */
function ask(client: grpc.Client, request: object): Promise<ReflectionResponse> {
  return new Promise((resolve, reject) => {
    const call = (client as unknown as { serverReflectionInfo(): grpc.ClientDuplexStream<object, ReflectionResponse> }).serverReflectionInfo();
    call.once("data", (response: ReflectionResponse) => {
      resolve(response);
      call.end();
    });
    call.once("error", reject);
    call.write(request);
  });
}

describe("gRPC reflection and health over h2c", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ storage: "embedded" });
  });
  afterAll(async () => server?.destroy());

  it.each(["v1", "v1alpha"] as const)("lists every service (%s)", async (version) => {
    const client = reflectionClient(`127.0.0.1:${server.port}`, version);
    try {
      const response = await ask(client, { listServices: "" });
      expect(response.listServicesResponse!.service.map((service) => service.name)).toEqual(
        expect.arrayContaining(["tessera.v1.TokenService", "tessera.v1.IntrospectionService", "tessera.v1.ClientAdminService", "tessera.v1.FederationService", "grpc.health.v1.Health"]),
      );
    } finally {
      client.close();
    }
  });

  it("returns a service's file with every dependency, decodable as FileDescriptorProtos", async () => {
    const client = reflectionClient(`127.0.0.1:${server.port}`, "v1");
    try {
      const response = await ask(client, { fileContainingSymbol: "tessera.v1.ClientAdminService" });
      const files = response.fileDescriptorResponse!.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
      const names = files.map((file) => file.name);
      expect(names[0]).toBe("tessera/v1/client_admin_service.proto");
      expect(names).toEqual(expect.arrayContaining(["tessera/v1/client.proto", "google/protobuf/field_mask.proto", "google/protobuf/struct.proto", "google/protobuf/timestamp.proto"]));
      expect(files[0]!.service[0]!.method.map((method) => method.name)).toContain("CreateClient");
      const missing = await ask(client, { fileContainingSymbol: "no.such.Symbol" });
      expect(missing.errorResponse!.errorCode).toBe(grpc.status.NOT_FOUND);
      const byName = await ask(client, { fileByFilename: "tessera/v1/token_service.proto" });
      expect(byName.fileDescriptorResponse!.fileDescriptorProto.length).toBeGreaterThan(0);
    } finally {
      client.close();
    }
  });

  it("answers health Watch with the current status, and Check NOT_FOUND for an unknown service", async () => {
    const health = grpcClient(`127.0.0.1:${server.port}`, "Health");
    try {
      const first = await new Promise<{ status: string }>((resolve, reject) => {
        const call = (health as unknown as { watch(request: object): grpc.ClientReadableStream<{ status: string }> }).watch({ service: "tessera.v1.TokenService" });
        call.once("data", (message: { status: string }) => {
          resolve(message);
          call.cancel();
        });
        call.once("error", (error: grpc.ServiceError) => {
          if (error.code !== grpc.status.CANCELLED) reject(error);
        });
      });
      expect(first.status).toBe("SERVING");
      await expect(
        new Promise((resolve, reject) =>
          (health as unknown as { check(r: object, cb: (e: grpc.ServiceError | null, v: unknown) => void): void }).check({ service: "nope" }, (error, value) =>
            error ? reject(error) : resolve(value),
          ),
        ),
      ).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    } finally {
      health.close();
    }
  });
});
