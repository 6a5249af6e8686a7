/**
 * The caller's TLS client certificate, for client authentication and certificate-bound tokens
 * (RFC 8705): only when the connection is TLS and the certificate passed verification against
 * the configured client CAs (RFC 8705 §2); undefined otherwise. One function for the HTTP gateway
 * and the RPC services.
 */
import type { TLSSocket } from "node:tls";
import type { ClientCertificate } from "../oauth/token/token-request.js";

export function verifiedClientCertificate(request: { readonly socket?: unknown }): ClientCertificate | undefined {
  const socket = request.socket as Partial<TLSSocket> | null | undefined;
  if (!socket?.encrypted || !socket.authorized || !socket.getPeerCertificate) return undefined;
  const certificate = socket.getPeerCertificate();
  return certificate?.raw ? { der: certificate.raw } : undefined;
}
