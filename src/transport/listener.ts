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
import { Duplex } from "node:stream";
import type { TlsConfig } from "../config/config.js";
import type { Logger } from "../log/logger.js";

/** What node's servers hand over: connect-node's adapter and the gateway both accept it. */
export type RequestHandler = (
  request: http.IncomingMessage | http2.Http2ServerRequest,
  response: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export interface Listener {
  readonly port: number;
  /** Stops accepting, drains for at most timeoutMs, then closes every connection. */
  close(timeoutMs: number): Promise<void>;
}

const HTTP2_PREFACE_START = Buffer.from("PRI ");
/** A client that sends nothing this long after connecting is dropped. */
const FIRST_BYTES_TIMEOUT_MS = 10_000;
/** Caps that keep a slow or hostile client from holding resources. */
const MAX_HEADER_BYTES = 16 * 1024;
/** How much of a refused HTTP/2 body is read and dropped before the stream is reset instead. */
const MAX_DISCARDED_BODY_BYTES = 1024 * 1024;

export async function listen(options: {
  handler: RequestHandler;
  host: string;
  port: number;
  tls: TlsConfig | undefined;
  log: Logger;
}): Promise<Listener> {
  const sockets = new Set<Duplex>();
  const sessions = new Set<http2.ServerHttp2Session>();
  const track = (socket: Duplex) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };

  const h2Options: http2.ServerOptions = {
    maxHeaderListPairs: 128,
    maxSessionMemory: 10,
    settings: { maxHeaderListSize: MAX_HEADER_BYTES },
  };
  const h2Handler: RequestHandler = (request, response) => {
    if (request instanceof http2.Http2ServerRequest && response instanceof http2.Http2ServerResponse) {
      discardRefusedBody(request, response);
    }
    options.handler(request, response);
  };
  const http2Server = options.tls
    ? http2.createSecureServer({ ...h2Options, cert: options.tls.cert, key: options.tls.key, allowHTTP1: true }, h2Handler)
    : http2.createServer(h2Options, h2Handler);
  http2Server.on("session", (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  http2Server.on("sessionError", (error) => options.log.debug({ err: error }, "http2 session error"));

  const http1Server = http.createServer(
    { maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: 30_000, headersTimeout: 15_000, keepAliveTimeout: 5_000 },
    options.handler,
  );
  http1Server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex & { bytesWritten?: number }) => {
    // Answer the unparseable request only on a connection nothing was written to yet: after an
    // earlier answer (perhaps one that said `Connection: close`, perhaps one still being
    // written) an extra response would corrupt what the client reads. Otherwise just close.
    if (socket.writable && (socket.bytesWritten ?? 0) === 0) {
      const status = error.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request";
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    } else {
      socket.destroy();
    }
  });

  let server: net.Server;
  if (options.tls) {
    server = http2Server as unknown as net.Server;
    server.on("connection", (socket: net.Socket) => {
      track(socket);
      socket.setNoDelay(true);
    });
  } else {
    // No Nagle delay: small RPC answers would otherwise wait for the peer's delayed ACK
    // (measured at light load: gRPC p50 48 ms → 2 ms).
    server = net.createServer({ noDelay: true }, (socket) => {
      track(socket);
      socket.setTimeout(FIRST_BYTES_TIMEOUT_MS, () => socket.destroy());
      socket.on("error", () => socket.destroy());
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        if (head.length < HTTP2_PREFACE_START.length && HTTP2_PREFACE_START.subarray(0, head.length).equals(head)) return;
        socket.off("data", onData);
        socket.pause();
        socket.setTimeout(0);
        if (head.subarray(0, HTTP2_PREFACE_START.length).equals(HTTP2_PREFACE_START)) {
          // The HTTP/2 server gets a stream that replays the peeked bytes first. Handing it the
          // socket itself after `unshift` also works (node feeds a new session what is buffered,
          // nodejs/node#35475), but measured no faster, and in the refused-bodies test nghttp2
          // gave up on the connection sooner (168 requests instead of none).
          http2Server.emit("connection", new ReplayingSocket(socket, head));
        } else {
          socket.unshift(head);
          http1Server.emit("connection", socket);
          socket.resume();
        }
      };
      socket.on("data", onData);
    });
  }

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
 * A duplex over a socket whose first bytes were already read: it yields those bytes, then the
 * rest of the socket, and writes straight through. Carries the address fields servers log.
 */
class ReplayingSocket extends Duplex {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly remoteFamily: string | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;

  constructor(
    private readonly socket: net.Socket,
    head: Buffer,
  ) {
    super({ allowHalfOpen: false });
    this.remoteAddress = socket.remoteAddress;
    this.remotePort = socket.remotePort;
    this.remoteFamily = socket.remoteFamily;
    this.localAddress = socket.localAddress;
    this.localPort = socket.localPort;
    this.push(head);
    socket.on("data", (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.once("end", () => this.push(null));
    socket.once("error", (error) => this.destroy(error));
    socket.once("close", () => this.destroy());
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.socket.write(chunk, encoding, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy(error ?? undefined);
    callback(error);
  }

  setNoDelay(noDelay?: boolean): this {
    this.socket.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable?: boolean, initialDelay?: number): this {
    this.socket.setKeepAlive(enable, initialDelay);
    return this;
  }

  setTimeout(timeout: number, callback?: () => void): this {
    this.socket.setTimeout(timeout, callback);
    return this;
  }
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
    // Unread (flowing null), or read in part and then left (flowing false: connect-es stops
    // pulling a unary body once an envelope's header promises more than the read limit).
    if (!request.complete && request.readableFlowing !== true) discardBody(request);
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
export function discardBody(request: http2.Http2ServerRequest): void {
  const stream = request.stream;
  if (stream.destroyed) return;
  let discarded = 0;
  stream.removeAllListeners("data");
  stream.on("data", (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > MAX_DISCARDED_BODY_BYTES) stream.close(http2.constants.NGHTTP2_CANCEL);
  });
  stream.resume();
}
