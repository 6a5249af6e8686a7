/**
 * gRPC server reflection (v1 and v1alpha) served by connect-node over h2c, called with
 * @grpc/grpc-js as grpcurl calls it: list the services, fetch a symbol's file with its imports,
 * and build a working client from nothing but the descriptors the server sent.
 */
import { create, createFileRegistry, fromBinary, toBinary, type DescFile } from "@bufbuild/protobuf";
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  file_google_protobuf_api,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  type FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, file_grpc_health_v1_health } from "../../../src/gen/grpc/health/v1/health_pb.js";
import { HealthStatus, healthServiceImpl } from "../../../src/transport/connect/health-service.js";
import { reflectionServiceImpls } from "../../../src/transport/connect/reflection-service.js";
import { LOADER_OPTIONS, clientFor, grpc, protoClient, startH2cServer, unary, type H2cServer } from "./h2c.js";

interface ReflectionResponse {
  validHost: string;
  originalRequest: Record<string, unknown>;
  messageResponse: string;
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  allExtensionNumbersResponse?: { baseTypeName: string; extensionNumber: number[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

/**
 * A file no generated code describes: a service whose messages come from two WKT files, so its
 * descriptor has imports (and transitive ones through the registry).
 */
function echoFile(): DescFile {
  const proto = create(FileDescriptorProtoSchema, {
    name: "test/v1/echo.proto",
    package: "test.v1",
    syntax: "proto3",
    dependency: ["google/protobuf/struct.proto", "google/protobuf/timestamp.proto"],
    messageType: [
      {
        name: "EchoRequest",
        field: [
          { name: "payload", number: 1, type: 11, typeName: ".google.protobuf.Struct", label: 1, jsonName: "payload" },
          { name: "sent_at", number: 2, type: 11, typeName: ".google.protobuf.Timestamp", label: 1, jsonName: "sentAt" },
        ],
      },
    ],
    enumType: [{ name: "Mode", value: [{ name: "MODE_UNSPECIFIED", number: 0 }, { name: "MODE_LOUD", number: 1 }] }],
    service: [{ name: "EchoService", method: [{ name: "Echo", inputType: ".test.v1.EchoRequest", outputType: ".google.protobuf.Struct" }] }],
  });
  const registry = createFileRegistry(proto, (name) => [file_google_protobuf_struct, file_google_protobuf_timestamp].find((file) => file.proto.name === name));
  return registry.getFile("test/v1/echo.proto")!;
}

function reflectionClient(version: "v1" | "v1alpha", address: string): grpc.Client {
  return protoClient(`grpc/reflection/${version}/reflection.proto`, `grpc.reflection.${version}.ServerReflection`, address);
}

/** Sends the requests on one ServerReflectionInfo stream and collects one response per request. */
function exchange(client: grpc.Client, requests: object[]): Promise<ReflectionResponse[]> {
  return new Promise((resolve, reject) => {
    const call = (client as unknown as { serverReflectionInfo(): grpc.ClientDuplexStream<object, ReflectionResponse> }).serverReflectionInfo();
    const responses: ReflectionResponse[] = [];
    call.on("data", (response: ReflectionResponse) => responses.push(response));
    call.on("error", reject);
    call.on("end", () => resolve(responses));
    for (const request of requests) call.write(request);
    call.end();
  });
}

async function ask(client: grpc.Client, request: object): Promise<ReflectionResponse> {
  const [response] = await exchange(client, [request]);
  return response!;
}

function decode(response: ReflectionResponse): FileDescriptorProto[] {
  expect(response.errorResponse, JSON.stringify(response.errorResponse)).toBeUndefined();
  return response.fileDescriptorResponse!.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
}

describe("gRPC server reflection over h2c", () => {
  let server: H2cServer;
  const clients: grpc.Client[] = [];
  let address: string;

  beforeAll(async () => {
    const health = new HealthStatus();
    health.set("", "SERVING");
    const reflection = reflectionServiceImpls({
      files: [file_google_protobuf_struct, file_google_protobuf_timestamp, file_google_protobuf_api, file_grpc_health_v1_health, echoFile()],
    });
    server = await startH2cServer((router) => {
      router.service(Health, healthServiceImpl(health));
      for (const [service, impl] of reflection) router.service(service, impl);
    });
    address = server.address;
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await server?.close();
  });
  const client = (version: "v1" | "v1alpha" = "v1") => {
    const created = reflectionClient(version, address);
    clients.push(created);
    return created;
  };

  it.each(["v1", "v1alpha"] as const)("lists the services of the given files and reflection itself (%s)", async (version) => {
    const response = await ask(client(version), { host: "localhost", listServices: "*" });
    expect(response.validHost).toBe("localhost");
    expect(response.originalRequest).toMatchObject({ host: "localhost", listServices: "*" });
    expect(response.listServicesResponse!.service.map((service) => service.name)).toEqual([
      "grpc.health.v1.Health",
      "test.v1.EchoService",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
    ]);
  });

  it("answers file_containing_symbol for a service with the file first, then its imports, decodable and complete", async () => {
    const files = decode(await ask(client(), { fileContainingSymbol: "test.v1.EchoService" }));
    expect(files.map((file) => file.name)).toEqual(["test/v1/echo.proto", "google/protobuf/struct.proto", "google/protobuf/timestamp.proto"]);
    const [echo, struct] = files;
    expect(echo!.dependency).toEqual(["google/protobuf/struct.proto", "google/protobuf/timestamp.proto"]);
    expect(echo!.service[0]!.method[0]).toMatchObject({ name: "Echo", inputType: ".test.v1.EchoRequest", outputType: ".google.protobuf.Struct" });
    expect(echo!.messageType[0]!.field.map((field) => field.jsonName)).toEqual(["payload", "sentAt"]);
    expect(struct!.messageType.map((message) => message.name)).toEqual(["Struct", "Value", "ListValue"]);
    // The generated code's embedded descriptors round-trip: names, imports and json_name intact.
    expect(decode(await ask(client(), { fileContainingSymbol: "grpc.health.v1.Health" }))).toEqual([file_grpc_health_v1_health.proto]);
  });

  it("follows imports transitively, each file once", async () => {
    const files = decode(await ask(client(), { fileContainingSymbol: "google.protobuf.Api" }));
    expect(files[0]!.name).toBe("google/protobuf/api.proto");
    expect(files.map((file) => file.name).sort()).toEqual(
      ["google/protobuf/any.proto", "google/protobuf/api.proto", "google/protobuf/source_context.proto", "google/protobuf/type.proto"].sort(),
    );
  });

  it.each([
    ["a method", "test.v1.EchoService.Echo", "test/v1/echo.proto"],
    ["a message", "test.v1.EchoRequest", "test/v1/echo.proto"],
    ["a field", "test.v1.EchoRequest.sent_at", "test/v1/echo.proto"],
    ["an enum", "test.v1.Mode", "test/v1/echo.proto"],
    ["a top-level enum value", "test.v1.MODE_LOUD", "test/v1/echo.proto"],
    ["a nested enum", "grpc.health.v1.HealthCheckResponse.ServingStatus", "grpc/health/v1/health.proto"],
    ["a map entry", "google.protobuf.Struct.FieldsEntry", "google/protobuf/struct.proto"],
    ["a map entry's field", "google.protobuf.Struct.FieldsEntry.value", "google/protobuf/struct.proto"],
    ["a oneof", "google.protobuf.Value.kind", "google/protobuf/struct.proto"],
    ["a message-scoped enum value", "grpc.health.v1.HealthCheckResponse.SERVICE_UNKNOWN", "grpc/health/v1/health.proto"],
    ["a leading dot", ".google.protobuf.Timestamp", "google/protobuf/timestamp.proto"],
    ["an imported file's message", "google.protobuf.NullValue", "google/protobuf/struct.proto"],
  ])("answers file_containing_symbol for %s", async (_what, symbol, file) => {
    expect(decode(await ask(client(), { fileContainingSymbol: symbol }))[0]!.name).toBe(file);
  });

  it("answers file_by_filename, and NOT_FOUND for unknown files and symbols", async () => {
    const responses = await exchange(client("v1alpha"), [
      { fileByFilename: "google/protobuf/timestamp.proto" },
      { fileByFilename: "no/such/file.proto" },
      { fileContainingSymbol: "no.such.Symbol" },
      { fileContainingSymbol: "test.v1.EchoService.NoSuchMethod" },
    ]);
    expect(responses).toHaveLength(4);
    expect(decode(responses[0]!).map((file) => file.name)).toEqual(["google/protobuf/timestamp.proto"]);
    for (const response of responses.slice(1)) expect(response.errorResponse!.errorCode).toBe(grpc.status.NOT_FOUND);
  });

  it("answers the extension requests from the registry: none declared here", async () => {
    const [numbers, unknownType, extension] = await exchange(client(), [
      { allExtensionNumbersOfType: "google.protobuf.Struct" },
      { allExtensionNumbersOfType: "no.such.Type" },
      { fileContainingExtension: { containingType: "google.protobuf.Struct", extensionNumber: 1000 } },
    ]);
    expect(numbers!.allExtensionNumbersResponse).toEqual({ baseTypeName: "google.protobuf.Struct", extensionNumber: [] });
    expect(unknownType!.errorResponse!.errorCode).toBe(grpc.status.NOT_FOUND);
    expect(extension!.errorResponse!.errorCode).toBe(grpc.status.NOT_FOUND);
  });

  it("sends descriptors a client can call the service with, as grpcurl does", async () => {
    const files = decode(await ask(client(), { fileContainingSymbol: "grpc.health.v1.Health" }));
    const set = create(FileDescriptorSetSchema, { file: files });
    expect(createFileRegistry(set).getService("grpc.health.v1.Health")?.methods.map((method) => method.name)).toEqual(["Check", "List", "Watch"]);
    // protobufjs (via proto-loader) rebuilds the service from the descriptors alone.
    const definition = protoLoader.loadFileDescriptorSetFromBuffer(Buffer.from(toBinary(FileDescriptorSetSchema, set)), LOADER_OPTIONS);
    const health = clientFor(definition, "grpc.health.v1.Health", address);
    clients.push(health);
    await expect(unary(health, "check", { service: "" })).resolves.toEqual({ status: "SERVING" });
  });
});
