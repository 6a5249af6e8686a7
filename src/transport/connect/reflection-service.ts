/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha, identical messages), so grpcurl and
 * other tools can list and call our services without .proto files. Descriptors come from the
 * generated code's embedded FileDescriptorProtos; each answer carries the requested file and
 * its transitive dependencies.
 */
import { toBinary, type DescFile, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { Code } from "@connectrpc/connect";
import { ServerReflection as ServerReflectionV1 } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1Alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import type { ServerReflectionRequest, ServerReflectionResponseSchema } from "../../gen/grpc/reflection/v1/reflection_pb.js";

type ResponseInit = MessageInitShape<typeof ServerReflectionResponseSchema>;

class DescriptorIndex {
  private readonly files = new Map<string, DescFile>();
  private readonly symbols = new Map<string, DescFile>();
  readonly services: string[] = [];

  constructor(roots: readonly DescFile[]) {
    for (const file of roots) {
      this.addFile(file);
      for (const service of file.services) this.services.push(service.typeName);
    }
  }

  private addFile(file: DescFile): void {
    const name = file.proto.name;
    if (this.files.has(name)) return;
    this.files.set(name, file);
    for (const dependency of file.dependencies) this.addFile(dependency);
    for (const service of file.services) {
      this.symbols.set(service.typeName, file);
      for (const method of service.methods) this.symbols.set(`${service.typeName}.${method.name}`, file);
    }
    const addMessage = (message: DescMessage) => {
      this.symbols.set(message.typeName, file);
      for (const field of message.fields) this.symbols.set(`${message.typeName}.${field.name}`, file);
      for (const nested of message.nestedMessages) addMessage(nested);
      for (const nestedEnum of message.nestedEnums) this.symbols.set(nestedEnum.typeName, file);
    };
    for (const message of file.messages) addMessage(message);
    for (const enumeration of file.enums) this.symbols.set(enumeration.typeName, file);
    for (const extension of file.extensions) this.symbols.set(extension.typeName, file);
  }

  fileByName(name: string): DescFile | undefined {
    return this.files.get(name);
  }

  fileContainingSymbol(symbol: string): DescFile | undefined {
    return this.symbols.get(symbol.replace(/^\./, ""));
  }

  /** The file first, then every file it depends on, transitively, each once. */
  serializedWithDependencies(file: DescFile): Uint8Array[] {
    const seen = new Set<string>();
    const out: Uint8Array[] = [];
    const visit = (current: DescFile) => {
      if (seen.has(current.proto.name)) return;
      seen.add(current.proto.name);
      out.push(toBinary(FileDescriptorProtoSchema, current.proto));
      for (const dependency of current.dependencies) visit(dependency);
    };
    visit(file);
    return out;
  }
}

function answer(index: DescriptorIndex, request: ServerReflectionRequest): ResponseInit {
  const notFound = (what: string): ResponseInit => ({
    messageResponse: { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } },
  });
  const files = (file: DescFile | undefined, what: string): ResponseInit =>
    file
      ? { messageResponse: { case: "fileDescriptorResponse", value: { fileDescriptorProto: index.serializedWithDependencies(file) } } }
      : notFound(what);
  const { messageRequest } = request;
  switch (messageRequest.case) {
    case "listServices":
      return {
        messageResponse: { case: "listServicesResponse", value: { service: index.services.map((name) => ({ name })) } },
      };
    case "fileByFilename":
      return files(index.fileByName(messageRequest.value), `file ${messageRequest.value}`);
    case "fileContainingSymbol":
      return files(index.fileContainingSymbol(messageRequest.value), `symbol ${messageRequest.value}`);
    case "fileContainingExtension":
    case "allExtensionNumbersOfType":
      // Tessera's protos declare no extensions.
      return {
        messageResponse: { case: "errorResponse", value: { errorCode: Code.Unimplemented, errorMessage: "extensions are not supported" } },
      };
    default:
      return {
        messageResponse: { case: "errorResponse", value: { errorCode: Code.InvalidArgument, errorMessage: "empty reflection request" } },
      };
  }
}

/** Implementations of both reflection versions over the given files (and their imports). */
export function reflectionServiceImpls(registry: { files: readonly DescFile[] }) {
  const index = new DescriptorIndex([...registry.files, ServerReflectionV1.file, ServerReflectionV1Alpha.file]);
  // The two versions' messages are field-for-field the same, so one handler serves both.
  const serve = async function* (requests: AsyncIterable<ServerReflectionRequest>) {
    for await (const request of requests) {
      yield { validHost: request.host, originalRequest: request, ...answer(index, request) };
    }
  };
  return [
    [ServerReflectionV1, { serverReflectionInfo: serve } as unknown as ServiceImpl<typeof ServerReflectionV1>],
    [ServerReflectionV1Alpha, { serverReflectionInfo: serve } as unknown as ServiceImpl<typeof ServerReflectionV1Alpha>],
  ] as const;
}
