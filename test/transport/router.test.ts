import type http from "node:http";
import { describe, expect, it } from "vitest";
import type { RpcRequestHandler } from "../../src/transport/connect/rpc-handler.js";
import type { RequestHandler } from "../../src/transport/listener.js";
import { oneOriginRouter } from "../../src/transport/router.js";

function routed(url: string): string {
  const seen: string[] = [];
  const rpc: RpcRequestHandler = {
    requestPaths: new Set(["/tessera.v1.TokenService/IssueToken"]),
    serve: (_request, _response, path) => seen.push(`rpc ${path}`),
    serveStream: () => false,
  };
  const gateway: RequestHandler = (request) => seen.push(`gateway ${request.url}`);
  oneOriginRouter({ rpc, gateway })({ url } as http.IncomingMessage, {} as http.ServerResponse);
  return seen.join();
}

describe("the one-port router", () => {
  it("gives a request for an RPC method to the RPC handler, by its path without the query", () => {
    expect(routed("/tessera.v1.TokenService/IssueToken")).toBe("rpc /tessera.v1.TokenService/IssueToken");
    expect(routed("/tessera.v1.TokenService/IssueToken?x=1")).toBe("rpc /tessera.v1.TokenService/IssueToken");
  });

  it("gives every other path to the HTTP gateway, untouched", () => {
    expect(routed("/oauth/token")).toBe("gateway /oauth/token");
    expect(routed("/keys?x=1")).toBe("gateway /keys?x=1");
    expect(routed("/tessera.v1.TokenService/NoSuchMethod")).toBe("gateway /tessera.v1.TokenService/NoSuchMethod");
  });
});
