/**
 * Which side of the one port a request belongs to, by its path: a method of one of the RPC
 * services (Connect, gRPC or gRPC-Web, whichever the request speaks, served by connect-es; plain
 * gRPC unary calls never get here, the lean path takes their HTTP/2 streams first) or, for
 * anything else, the HTTP gateway (/oauth/*, /keys, metadata, /metrics, health probes). Neither side knows the other. How a connection became
 * HTTP/1.1 or HTTP/2 (preface or ALPN) is the listener's part.
 */
import type { RpcRequestHandler } from "./connect/rpc-handler.js";
import type { RequestHandler } from "./listener.js";

export function oneOriginRouter(options: { rpc: RpcRequestHandler; gateway: RequestHandler }): RequestHandler {
  const { rpc, gateway } = options;
  return (request, response) => {
    const url = request.url ?? "";
    const queryAt = url.indexOf("?");
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    if (rpc.requestPaths.has(path)) rpc.serve(request, response, path);
    else gateway(request, response);
  };
}
