/**
 * The connect-es helpers the lean gRPC path borrows are marked `@private … does not follow
 * semantic versioning`: a minor upgrade may rename, re-sign or change any of them. This test
 * pins what the lean path relies on — each name, its kind and arity, and its answer on a known
 * input — so an upgrade that changes one fails here, by name, before any answer on the wire
 * drifts. If it fails: adapt lean-grpc/ to the new helper, or set TESSERA_LEAN_GRPC=false.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { compressionGzip } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import { Health, HealthCheckRequestSchema } from "../../../../src/gen/grpc/health/v1/health_pb.js";
import * as internals from "../../../../src/transport/connect/lean-grpc/connect-es-internals.js";

/** Every runtime value the fence exports, with its kind and, for functions, its arity. */
const EXPECTED_SHAPES: Record<string, { kind: "function"; arity: number } | { kind: "number" | "string" }> = {
  compressedFlag: { kind: "number" },
  compressionNegotiate: { kind: "function", arity: 4 },
  contentTypeProto: { kind: "string" },
  createMethodSerializationLookup: { kind: "function", arity: 4 },
  encodeEnvelope: { kind: "function", arity: 2 },
  envelopeCompress: { kind: "function", arity: 3 },
  parseTimeout: { kind: "function", arity: 2 },
  setTrailerStatus: { kind: "function", arity: 2 },
};

describe("the connect-es internals the lean gRPC path borrows", () => {
  it("are exactly the helpers this test knows", () => {
    expect(Object.keys(internals).sort()).toEqual(Object.keys(EXPECTED_SHAPES).sort());
  });

  it.each(Object.entries(EXPECTED_SHAPES))("%s keeps its kind and arity", (name, shape) => {
    const value = (internals as Record<string, unknown>)[name];
    expect(typeof value).toBe(shape.kind);
    if (shape.kind === "function") expect((value as (...args: unknown[]) => unknown).length).toBe(shape.arity);
  });

  it("compressedFlag is the envelope's compressed bit, and contentTypeProto the gRPC protobuf content type", () => {
    expect(internals.compressedFlag).toBe(0b0000_0001);
    expect(internals.contentTypeProto).toBe("application/grpc+proto");
  });

  it("createMethodSerializationLookup round-trips a method's request and enforces readMaxBytes", () => {
    const serialization = internals.createMethodSerializationLookup(Health.method.check, undefined, undefined, { readMaxBytes: 64, writeMaxBytes: 0xffffffff });
    const input = serialization.getI(true);
    const message = create(HealthCheckRequestSchema, { service: "tessera" });
    const bytes = input.serialize(message);
    expect(bytes).toEqual(toBinary(HealthCheckRequestSchema, message));
    expect(fromBinary(HealthCheckRequestSchema, bytes).service).toBe("tessera");
    expect(input.parse(bytes)).toMatchObject({ service: "tessera" });
    expect(() => input.parse(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: "x".repeat(100) })))).toThrow(ConnectError);
    expect(serialization.getO(true).serialize(create(Health.method.check.output, { status: 1 }))).toEqual(new Uint8Array([0x08, 0x01]));
  });

  it("encodeEnvelope writes the flags, the big-endian length and the data", () => {
    expect([...internals.encodeEnvelope(0, new Uint8Array([1, 2, 3]))]).toEqual([0, 0, 0, 0, 3, 1, 2, 3]);
  });

  it("envelopeCompress leaves an envelope alone without a compression, and gzips one above the threshold", async () => {
    const envelope = { flags: 0, data: new Uint8Array([1, 2]) };
    expect(await internals.envelopeCompress(envelope, null, 1024)).toEqual(envelope);
    const large = { flags: 0, data: new Uint8Array(2048) };
    const compressed = await internals.envelopeCompress(large, compressionGzip, 1024);
    expect(compressed.flags & internals.compressedFlag).toBe(internals.compressedFlag);
    expect(new Uint8Array(await compressionGzip.decompress(compressed.data, 4096))).toEqual(large.data);
  });

  it("compressionNegotiate picks the response compression the caller accepts", () => {
    expect(internals.compressionNegotiate([compressionGzip], null, "gzip", "grpc-accept-encoding")).toMatchObject({ request: null, response: { name: "gzip" } });
    expect(internals.compressionNegotiate([compressionGzip], null, "identity", "grpc-accept-encoding")).toMatchObject({ request: null, response: null });
  });

  it("parseTimeout reads grpc-timeout, and answers a malformed one with INVALID_ARGUMENT", () => {
    expect(internals.parseTimeout("50m", Number.MAX_SAFE_INTEGER)).toEqual({ timeoutMs: 50 });
    expect(internals.parseTimeout(null, Number.MAX_SAFE_INTEGER)).toEqual({});
    const { error } = internals.parseTimeout("soon", Number.MAX_SAFE_INTEGER);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error?.code).toBe(Code.InvalidArgument);
  });

  it("setTrailerStatus writes grpc-status and the percent-encoded grpc-message", () => {
    const ok = new Headers();
    internals.setTrailerStatus(ok, undefined);
    expect([...ok]).toEqual([["grpc-status", "0"]]);
    const refused = new Headers();
    internals.setTrailerStatus(refused, new ConnectError("not for you", Code.PermissionDenied));
    expect(Object.fromEntries(refused)).toEqual({ "grpc-status": String(Code.PermissionDenied), "grpc-message": "not%20for%20you" });
  });
});
