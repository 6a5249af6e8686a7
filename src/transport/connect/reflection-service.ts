/**
 * gRPC server reflection (https://github.com/grpc/grpc/blob/master/doc/server-reflection.md), so
 * grpcurl, grpcui, Postman and friends can list and call our services without .proto files.
 *
 * grpc.reflection.v1 and the deprecated v1alpha carry field-for-field identical messages, so one
 * handler, written against the shape they share, serves both. Descriptors are the generated
 * code's embedded FileDescriptorProtos (`DescFile.proto`): protoc-gen-es v2 strips only
 * source_code_info (comments) and restores `dependency` and `json_name` when it loads them, so
 * they are what buf/protoc compiled. Every file answer carries the file found first, then all of
 * its transitive imports (google/protobuf/*.proto included), each once.
 */
import { createRegistry, toBinary, type DescFile, type Registry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, type DescriptorProto } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { ServerReflection as ServerReflectionV1 } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1Alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

/** ServerReflectionRequest as both versions decode it (their `$typeName`s aside). */
interface ReflectionRequest {
  host: string;
  messageRequest:
    | { case: "fileByFilename" | "fileContainingSymbol" | "allExtensionNumbersOfType" | "listServices"; value: string }
    | { case: "fileContainingExtension"; value: { containingType: string; extensionNumber: number } }
    | { case: undefined; value?: undefined };
}

/** The `message_response` oneof of ServerReflectionResponse, as both versions accept it. */
type ReflectionAnswer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

interface ReflectionResponse {
  validHost: string;
  originalRequest: ReflectionRequest;
  messageResponse: ReflectionAnswer;
}

/** Answers reflection requests about a fixed set of files and everything they import. */
export class Reflector {
  /** Fully-qualified names of the services in the given files, in order, each once. */
  readonly services: readonly string[];
  private readonly files = new Map<string, DescFile>();
  private readonly registry: Registry;
  private readonly serialized = new Map<string, Uint8Array>();

  constructor(roots: Iterable<DescFile>) {
    const services = new Set<string>();
    for (const file of roots) {
      this.addFile(file);
      for (const service of file.services) services.add(service.typeName);
    }
    this.services = [...services];
    this.registry = createRegistry(...this.files.values());
  }

  private addFile(file: DescFile): void {
    if (this.files.has(file.proto.name)) return;
    this.files.set(file.proto.name, file);
    for (const dependency of file.dependencies) this.addFile(dependency);
  }

  answer(request: ReflectionRequest): ReflectionAnswer {
    const { messageRequest } = request;
    switch (messageRequest.case) {
      case "listServices":
        return { case: "listServicesResponse", value: { service: this.services.map((name) => ({ name })) } };
      case "fileByFilename":
        return this.fileAnswer(this.files.get(messageRequest.value), `file ${JSON.stringify(messageRequest.value)} not found`);
      case "fileContainingSymbol":
        return this.fileAnswer(this.fileContainingSymbol(messageRequest.value), `symbol ${JSON.stringify(messageRequest.value)} not found`);
      case "fileContainingExtension": {
        const { containingType, extensionNumber } = messageRequest.value;
        const extendee = this.registry.getMessage(stripDot(containingType));
        const extension = extendee && this.registry.getExtensionFor(extendee, extensionNumber);
        return this.fileAnswer(extension?.file, `extension ${extensionNumber} of ${JSON.stringify(containingType)} not found`);
      }
      case "allExtensionNumbersOfType": {
        const typeName = stripDot(messageRequest.value);
        if (!this.registry.getMessage(typeName)) return error(Code.NotFound, `type ${JSON.stringify(messageRequest.value)} not found`);
        const numbers: number[] = [];
        for (const type of this.registry) if (type.kind === "extension" && type.extendee.typeName === typeName) numbers.push(type.number);
        return { case: "allExtensionNumbersResponse", value: { baseTypeName: typeName, extensionNumber: numbers.sort((a, b) => a - b) } };
      }
      default:
        // As grpc-go: a request with no message_request fails the stream.
        throw new ConnectError("invalid reflection request: no message_request set", Code.InvalidArgument);
    }
  }

  /**
   * The file declaring a fully-qualified symbol: a message, enum, service or extension, or a
   * member of one (method, field, oneof, enum value; enum values are scoped like their enum), or
   * a map field's synthetic entry message, which protobuf-es keeps only in the descriptor proto.
   */
  fileContainingSymbol(symbol: string): DescFile | undefined {
    const name = stripDot(symbol);
    const type = this.registry.get(name);
    if (type) return type.file;
    const dot = name.lastIndexOf(".");
    if (dot < 0) return undefined;
    const parent = name.slice(0, dot);
    const member = name.slice(dot + 1);
    const service = this.registry.getService(parent);
    if (service) return service.methods.some((method) => method.name === member) ? service.file : undefined;
    const message = this.messageProto(parent);
    if (message) {
      const { proto } = message;
      const declared =
        proto.field.some((field) => field.name === member) ||
        proto.oneofDecl.some((oneof) => oneof.name === member) ||
        proto.nestedType.some((nested) => nested.name === member) ||
        proto.enumType.some((nested) => nested.value.some((value) => value.name === member));
      return declared ? message.file : undefined;
    }
    // A top-level enum's values live in its package's scope.
    for (const file of this.files.values()) {
      if (file.proto.package !== parent) continue;
      if (file.proto.enumType.some((enumeration) => enumeration.value.some((value) => value.name === member))) return file;
    }
    return undefined;
  }

  /** A message's DescriptorProto by full name, map entries included. */
  private messageProto(typeName: string): { file: DescFile; proto: DescriptorProto } | undefined {
    const message = this.registry.getMessage(typeName);
    if (message) return { file: message.file, proto: message.proto };
    const dot = typeName.lastIndexOf(".");
    const parent = dot < 0 ? undefined : this.messageProto(typeName.slice(0, dot));
    const nested = parent?.proto.nestedType.find((candidate) => candidate.name === typeName.slice(dot + 1));
    return parent && nested ? { file: parent.file, proto: nested } : undefined;
  }

  /** The file's serialized FileDescriptorProto first, then its transitive imports', each once. */
  withDependencies(file: DescFile): Uint8Array[] {
    const seen = new Set<string>([file.proto.name]);
    const queue = [file];
    const out: Uint8Array[] = [];
    for (let current = queue.shift(); current; current = queue.shift()) {
      out.push(this.serialize(current));
      for (const dependency of current.dependencies) {
        if (seen.has(dependency.proto.name)) continue;
        seen.add(dependency.proto.name);
        queue.push(dependency);
      }
    }
    return out;
  }

  private serialize(file: DescFile): Uint8Array {
    let bytes = this.serialized.get(file.proto.name);
    if (!bytes) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      this.serialized.set(file.proto.name, bytes);
    }
    return bytes;
  }

  private fileAnswer(file: DescFile | undefined, notFound: string): ReflectionAnswer {
    return file ? { case: "fileDescriptorResponse", value: { fileDescriptorProto: this.withDependencies(file) } } : error(Code.NotFound, notFound);
  }

  /** The ServerReflectionInfo bidi stream: one response per request, in order. */
  async *serve(requests: AsyncIterable<ReflectionRequest>): AsyncIterable<ReflectionResponse> {
    for await (const request of requests) {
      yield { validHost: request.host, originalRequest: request, messageResponse: this.answer(request) };
    }
  }
}

function stripDot(name: string): string {
  return name.startsWith(".") ? name.slice(1) : name;
}

function error(code: Code, message: string): ReflectionAnswer {
  // Connect's Code numbers are gRPC's status codes, which error_code carries.
  return { case: "errorResponse", value: { errorCode: code, errorMessage: message } };
}

export type ReflectionServiceImpls = readonly [
  readonly [typeof ServerReflectionV1, ServiceImpl<typeof ServerReflectionV1>],
  readonly [typeof ServerReflectionV1Alpha, ServiceImpl<typeof ServerReflectionV1Alpha>],
];

/**
 * grpc.reflection.v1 and v1alpha ServerReflection over the given files (and their imports);
 * list_services names the services declared in those files plus both reflection services.
 * Register each pair with `rpcService(service, impl)` (rpc-handler.ts).
 */
export function reflectionServiceImpls(registry: { files: Iterable<DescFile> }): ReflectionServiceImpls {
  const reflector = new Reflector([...registry.files, ServerReflectionV1.file, ServerReflectionV1Alpha.file]);
  const v1: ServiceImpl<typeof ServerReflectionV1> = { serverReflectionInfo: (requests) => reflector.serve(requests) };
  const v1alpha: ServiceImpl<typeof ServerReflectionV1Alpha> = { serverReflectionInfo: (requests) => reflector.serve(requests) };
  return [
    [ServerReflectionV1, v1],
    [ServerReflectionV1Alpha, v1alpha],
  ];
}
