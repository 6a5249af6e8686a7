/**
 * A bare connect-node server over cleartext HTTP/2 (h2c) on 127.0.0.1 and a free port, and grpc-js
 * clients built from the vendored .proto files at run time, as a polyglot caller would build them.
 */
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

export const PROTO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../proto");

export const LOADER_OPTIONS: protoLoader.Options = { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true };

export interface H2cServer {
  readonly address: string;
  close(): Promise<void>;
}

export async function startH2cServer(routes: (router: ConnectRouter) => void): Promise<H2cServer> {
  const server = http2.createServer(connectNodeAdapter({ routes }));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const session of sessions) session.close();
      }),
  };
}

type ClientConstructor = new (address: string, credentials: grpc.ChannelCredentials) => grpc.Client;

/** A client for the fully-qualified `service`, from a package definition. */
export function clientFor(definition: protoLoader.PackageDefinition, service: string, address: string): grpc.Client {
  let node: unknown = grpc.loadPackageDefinition(definition);
  for (const part of service.split(".")) node = (node as Record<string, unknown>)[part];
  if (typeof node !== "function") throw new Error(`no service ${service} in the package definition`);
  return new (node as ClientConstructor)(address, grpc.credentials.createInsecure());
}

/** A client for a service declared in one of the .proto files under proto/. */
export function protoClient(file: string, service: string, address: string): grpc.Client {
  const definition = protoLoader.loadSync(path.join(PROTO_ROOT, file), { ...LOADER_OPTIONS, includeDirs: [PROTO_ROOT] });
  return clientFor(definition, service, address);
}

/** Calls a unary method; resolves with the response, rejects with the grpc.ServiceError. */
export function unary<Response>(client: grpc.Client, method: string, request: object): Promise<Response> {
  const call = (client as unknown as Record<string, unknown>)[method];
  if (typeof call !== "function") throw new Error(`no method ${method}`);
  return new Promise((resolve, reject) => {
    call.call(client, request, (error: grpc.ServiceError | null, response: Response) => (error ? reject(error) : resolve(response)));
  });
}

export { grpc };
