/**
 * One port for every protocol. Cleartext: each connection's first bytes decide — the HTTP/2
 * preface ("PRI * HTTP/2.0", sent by gRPC clients with prior knowledge) goes to an HTTP/2
 * server, anything else to an HTTP/1.1 server; both run the same handler. With TLS, ALPN
 * negotiates h2 or http/1.1 on one secure server. Shutdown is graceful: stop accepting, let
 * in-flight requests finish, then cut what is left at the deadline.
 */
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "../log/logger.js";
import { canonicalAddress } from "./client-address.js";

export interface TlsConfig {
  readonly cert: Buffer;
  readonly key: Buffer;
  /**
   * CAs for client certificates (RFC 8705 §2.1). When set, a certificate is requested but not
   * required: a client without one still connects (and authenticates otherwise), one with a
   * certificate that does not chain here is still served, its certificate marked unverified
   * (`socket.authorized` false) so that only self_signed_tls_client_auth can use it.
   */
  readonly clientCa?: Buffer | undefined;
}

/** Deadlines and caps that keep slow or stalled connections from holding the server's resources. */
export interface ConnectionLimits {
  /** Open connections per peer address; 0 = no cap. */
  readonly maxConnectionsPerIp: number;
  /** Open connections in all; 0 = no cap. */
  readonly maxConnections: number;
  /** Until a request's headers (HTTP/1.1), the HTTP/2 preface or the TLS handshake are complete. */
  readonly headersTimeoutMs: number;
  /** Until a request, body included, has arrived (HTTP/1.1 request, HTTP/2 stream). */
  readonly requestTimeoutMs: number;
  /** How long an HTTP/2 session with no open stream is kept. */
  readonly idleTimeoutMs: number;
}

/** What node's servers hand over: connect-node's adapter and the gateway both accept it. */
export type RequestHandler = (
  request: http.IncomingMessage | http2.Http2ServerRequest,
  response: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** Serves an HTTP/2 stream itself, or returns false to leave it to the request handler. */
export type StreamHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => boolean;

export interface Listener {
  readonly port: number;
  /** Stops accepting, drains for at most timeoutMs, then closes every connection. */
  close(timeoutMs: number): Promise<void>;
}

/** What an HTTP/2 client with prior knowledge sends first (RFC 9113 §3.4). */
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** Past this many bytes that match the preface, a connection is HTTP/2 or nothing. */
const HTTP2_PREFACE_COMMITTED = "PRI ".length;
/** Caps that keep a slow or hostile client from holding resources. */
const MAX_HEADER_BYTES = 16 * 1024;
/**
 * How often an HTTP/2 session looks for streams past their request deadline: a quarter of the
 * deadline within these bounds, so a stream is reset at most a quarter late.
 */
const MIN_SWEEP_INTERVAL_MS = 25;
const MAX_SWEEP_INTERVAL_MS = 1_000;
/** How much of a refused HTTP/2 body is read and dropped before the stream is reset instead. */
const MAX_DISCARDED_BODY_BYTES = 1024 * 1024;
/**
 * Streams one HTTP/2 session may have open at once (RFC 9113 §6.5.2 recommends no fewer than
 * 100). Node's default is 2³²−1: 10,000 pending streams on two connections held 115 MB of heap;
 * now streams past the limit are refused (REFUSED_STREAM), and after 100 refusals node ends the
 * session (ENHANCE_YOUR_CALM): the same flood holds 2 MB. Node counts a stream until its
 * JavaScript object is destroyed, a moment after the protocol closed it, so a client that
 * keeps exactly 100 streams busy may see one reset with ENHANCE_YOUR_CALM now and then.
 */
const MAX_CONCURRENT_STREAMS = 100;
/** How long an HTTP/1.1 connection may idle between requests. */
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** How often node's HTTP/1.1 server looks for requests past their header or request deadline. */
const DEADLINE_CHECK_INTERVAL_MS = 1_000;

export async function listen(options: {
  handler: RequestHandler;
  /**
   * Offered every HTTP/2 stream before Node's compatibility layer wraps it in a request and a
   * response; true means it took the stream, and `handler` never sees it.
   */
  streamHandler?: StreamHandler;
  host: string;
  port: number;
  tls: TlsConfig | undefined;
  limits: ConnectionLimits;
  /**
   * Peers exempt from the per-address cap: a trusted proxy or load balancer carries many
   * callers' connections under its one address (the cap on all connections still applies).
   */
  isTrustedProxy?: (address: string) => boolean;
  log: Logger;
}): Promise<Listener> {
  const { limits, log } = options;
  const sockets = new Set<Duplex>();
  const sessions = new Set<http2.ServerHttp2Session>();
  const perAddress = new Map<string, number>();
  /** Counts the connection against its address; false (and the socket closed) past the cap. */
  const admit = (socket: net.Socket): boolean => {
    const address = canonicalAddress(socket.remoteAddress) ?? "unknown";
    const open = perAddress.get(address) ?? 0;
    if (limits.maxConnectionsPerIp > 0 && open >= limits.maxConnectionsPerIp && !options.isTrustedProxy?.(address)) {
      log.debug({ address }, "connection refused: too many connections from this address");
      socket.destroy();
      return false;
    }
    perAddress.set(address, open + 1);
    sockets.add(socket);
    socket.once("close", () => {
      sockets.delete(socket);
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    });
    return true;
  };

  const h2Options: http2.ServerOptions = {
    maxHeaderListPairs: 128,
    maxSessionMemory: 10,
    settings: { maxHeaderListSize: MAX_HEADER_BYTES, maxConcurrentStreams: MAX_CONCURRENT_STREAMS },
  };
  const h2Handler: RequestHandler = (request, response) => {
    if (request instanceof http2.Http2ServerRequest && response instanceof http2.Http2ServerResponse) {
      discardRefusedBody(request, response);
    }
    options.handler(request, response);
  };
  const http2Server = options.tls
    ? http2.createSecureServer(
        {
          ...h2Options,
          cert: options.tls.cert,
          key: options.tls.key,
          allowHTTP1: true,
          handshakeTimeout: limits.headersTimeoutMs,
          ...(options.tls.clientCa ? { ca: options.tls.clientCa, requestCert: true, rejectUnauthorized: false } : {}),
        },
        h2Handler,
      )
    : http2.createServer(h2Options, h2Handler);
  if (options.streamHandler) offerStreamsFirst(http2Server, options.streamHandler);
  http2Server.on("session", (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    enforceSessionDeadlines(session, limits);
  });
  http2Server.on("sessionError", (error) => log.debug({ err: error }, "http2 session error"));

  const http1Deadlines = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    connectionsCheckingInterval: DEADLINE_CHECK_INTERVAL_MS,
  };
  const http1Server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES, ...http1Deadlines }, options.handler);
  // node:http enforces headersTimeout and requestTimeout from an interval that `listen` starts,
  // on its "listening" event. This server is handed its sockets and never listens, so without
  // the event a client trickling its headers, or never sending its body, was held for good.
  http1Server.emit("listening");
  http1Server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex & { bytesWritten?: number }) => {
    // Answer the unparseable request only on a connection nothing was written to yet: after an
    // earlier answer (perhaps one that said `Connection: close`, perhaps one still being
    // written) an extra response would corrupt what the client reads. Otherwise just close.
    if (socket.writable && (socket.bytesWritten ?? 0) === 0) {
      const status =
        error.code === "HPE_HEADER_OVERFLOW"
          ? "431 Request Header Fields Too Large"
          : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
            ? "408 Request Timeout"
            : "400 Bad Request";
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    } else {
      socket.destroy();
    }
  });

  let server: net.Server;
  if (options.tls) {
    server = http2Server as unknown as net.Server;
    // With allowHTTP1 the secure server runs node:http's connection handling itself, reading
    // these fields from itself (they are not among its typed options); it listens, so its
    // deadline interval runs.
    Object.assign(http2Server, http1Deadlines);
    const untilFirstRequest = new WeakMap<Duplex, NodeJS.Timeout>();
    server.on("connection", (socket: net.Socket) => {
      if (!admit(socket)) return;
      socket.setNoDelay(true);
    });
    // node:http's deadlines start with a request's first byte; a connection that never sends
    // one is dropped here. HTTP/2 sessions have their own idle deadline.
    http2Server.on("secureConnection", (socket: import("node:tls").TLSSocket) => {
      if (socket.alpnProtocol === "h2") return;
      const timer = setTimeout(() => socket.destroy(), limits.headersTimeoutMs).unref();
      untilFirstRequest.set(socket, timer);
      socket.once("close", () => clearTimeout(timer));
    });
    http2Server.on("request", (request: http.IncomingMessage | http2.Http2ServerRequest) => {
      if (request.httpVersionMajor === 1) clearTimeout(untilFirstRequest.get(request.socket));
    });
  } else {
    // No Nagle delay: small RPC answers would otherwise wait for the peer's delayed ACK, which
    // dominates latency at light load.
    server = net.createServer({ noDelay: true }, (socket) => {
      if (!admit(socket)) return;
      socket.on("error", () => socket.destroy());
      // A deadline, not an idle timeout: a client trickling the preface byte by byte must not
      // keep it from firing.
      const firstBytes = setTimeout(() => socket.destroy(), limits.headersTimeoutMs).unref();
      socket.once("close", () => clearTimeout(firstBytes));
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const compared = Math.min(head.length, HTTP2_PREFACE.length);
        const matched = head.subarray(0, compared).equals(HTTP2_PREFACE.subarray(0, compared));
        // The whole preface decides: a connection that sends only part of it waits for the rest
        // within the deadline.
        if (matched && head.length < HTTP2_PREFACE.length) return;
        socket.off("data", onData);
        clearTimeout(firstBytes);
        if (!matched && prefaceMatchedFor(head) >= HTTP2_PREFACE_COMMITTED) {
          // Neither a preface nor an HTTP/1.1 request line ("PRI " is no method node:http serves).
          socket.destroy();
          return;
        }
        socket.pause();
        if (matched) {
          // The HTTP/2 session takes the socket itself, and reads what was peeked from its
          // buffer first (nodejs/node#35475). Handed a JavaScript stream instead, Node runs
          // every read and write of the session through JavaScript.
          socket.unshift(head);
          http2Server.emit("connection", socket);
        } else {
          socket.unshift(head);
          http1Server.emit("connection", socket);
          socket.resume();
        }
      };
      socket.on("data", onData);
    });
  }
  if (limits.maxConnections > 0) server.maxConnections = limits.maxConnections;
  server.on("drop", () => log.debug("connection refused: TESSERA_MAX_CONNECTIONS reached"));

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;

  return {
    port: address.port,
    async close(timeoutMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      http1Server.close();
      http1Server.closeIdleConnections();
      // GOAWAY: clients finish their streams and open no new ones.
      for (const session of sessions) session.close();
      const deadline = setTimeout(() => {
        for (const session of sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
      }, timeoutMs);
      deadline.unref();
      const drained = async () => {
        while (sockets.size > 0) {
          http1Server.closeIdleConnections();
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      };
      await Promise.all([closed, drained()]);
      clearTimeout(deadline);
    },
  };
}

/**
 * Puts `take` in front of Node's compatibility layer: the server's one "stream" listener (the
 * one Node adds for a request handler, which makes the request and response objects) runs only
 * for the streams `take` leaves. If Node ever adds more listeners than that one, every stream
 * goes to the request handler as before.
 */
function offerStreamsFirst(server: http2.Http2Server | http2.Http2SecureServer, take: StreamHandler): void {
  const listeners = server.listeners("stream");
  if (listeners.length !== 1) return;
  const compatibility = listeners[0] as (...args: unknown[]) => void;
  server.removeListener("stream", compatibility);
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, ...rest: unknown[]) => {
    if (!take(stream, headers)) compatibility.call(server, stream, headers, ...rest);
  });
}

/**
 * Node closes an HTTP/2 stream whose request body nobody read as soon as the answer is sent
 * (RST_STREAM NO_ERROR). The client's DATA frames already in flight then count as protocol
 * "glitches" in nghttp2, and after a few hundred refused bodies (413, 404) it drops the whole
 * connection with ENHANCE_YOUR_CALM — every other stream on it too. Reading and discarding what
 * is left keeps the stream open until the client has finished sending, as node:http does for
 * HTTP/1.1, up to a bound past which the stream is reset after all.
 */
function discardRefusedBody(request: http2.Http2ServerRequest, response: http2.Http2ServerResponse): void {
  const end = response.end.bind(response) as (...args: unknown[]) => http2.Http2ServerResponse;
  response.end = ((...args: unknown[]) => {
    // Unread (flowing null), read in part and then left (flowing false: connect-es stops
    // pulling a unary body once an envelope's header promises more than the read limit), or
    // read in part and destroyed (the gateway's body cap): the compatibility layer then pauses
    // the stream on its next chunk, and a paused stream is never destroyed, so it held one of
    // the session's stream slots for good.
    if (!request.complete && (request.readableFlowing !== true || request.destroyed)) discardBody(request.stream);
    return end(...args);
  }) as typeof response.end;
}

/**
 * Reads and drops the rest of a refused HTTP/2 request body; past a bound, resets the stream
 * instead. It reads the HTTP/2 stream itself, not the compatibility request: a reader that left
 * a body part-read (connect-es's async iterator, returned early) has destroyed the request, and
 * the compatibility layer then pauses the stream on the next chunk it cannot push, so nothing
 * would ever read the rest. Its listener goes: the body is refused, nobody else wants it.
 */
export function discardBody(stream: http2.Http2Stream): void {
  if (stream.destroyed) return;
  let discarded = 0;
  stream.removeAllListeners("data");
  stream.on("data", (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > MAX_DISCARDED_BODY_BYTES) stream.close(http2.constants.NGHTTP2_CANCEL);
  });
  stream.resume();
}

/** How many leading bytes of `head` agree with the HTTP/2 preface. */
function prefaceMatchedFor(head: Buffer): number {
  let matched = 0;
  while (matched < head.length && matched < HTTP2_PREFACE.length && head[matched] === HTTP2_PREFACE[matched]) matched += 1;
  return matched;
}

/**
 * Deadlines of one HTTP/2 session. A stream whose request has not arrived whole within the
 * request timeout is reset (CANCEL); a stream whose request did arrive may stay open as long as
 * its answer takes, so a health Watch (server streaming) is never cut for being quiet. The
 * session is closed (GOAWAY) once it has had no open stream for the idle timeout; a session
 * with a quiet open stream is not idle. A client-streaming call (server reflection) must finish
 * sending within the request timeout.
 */
function enforceSessionDeadlines(session: http2.ServerHttp2Session, limits: ConnectionLimits): void {
  let open = 0;
  let idle: NodeJS.Timeout | undefined;
  const startIdle = () => {
    idle = setTimeout(() => session.close(), limits.idleTimeoutMs).unref();
  };
  startIdle();
  session.once("close", () => clearTimeout(idle));
  // Streams whose request has not arrived whole yet, with their deadlines: one sweep a session
  // rather than a timer a stream, which cost every call a timer's creation and cancellation.
  const arriving = new Map<http2.ServerHttp2Stream, number>();
  const sweepEveryMs = Math.max(MIN_SWEEP_INTERVAL_MS, Math.min(MAX_SWEEP_INTERVAL_MS, Math.floor(limits.requestTimeoutMs / 4)));
  let sweeper: NodeJS.Timeout | undefined;
  const sweep = () => {
    const now = Date.now();
    for (const [stream, deadline] of arriving) {
      if (stream.destroyed || requestArrived(stream)) arriving.delete(stream);
      else if (deadline <= now) {
        arriving.delete(stream);
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }
    }
    if (arriving.size === 0) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };
  session.once("close", () => clearInterval(sweeper));
  session.on("stream", (stream: http2.ServerHttp2Stream) => {
    open += 1;
    clearTimeout(idle);
    arriving.set(stream, Date.now() + limits.requestTimeoutMs);
    sweeper ??= setInterval(sweep, sweepEveryMs).unref();
    stream.once("close", () => {
      arriving.delete(stream);
      open -= 1;
      if (open === 0 && !session.closed && !session.destroyed) startIdle();
    });
  });
}

/** Whether the client has ended its side of the stream (END_STREAM), read or not. */
function requestArrived(stream: http2.ServerHttp2Stream): boolean {
  return stream.readableEnded || stream.state.remoteClose === 1;
}
