/**
 * The caller's TLS client certificate, for client authentication and certificate-bound tokens
 * (RFC 8705). One resolver for the HTTP gateway and the RPC services. Two sources:
 *
 * - Tessera terminates TLS: the peer certificate of the connection. With TESSERA_TLS_CLIENT_CA
 *   set the listener asks for one without requiring it, and OpenSSL's verdict against those
 *   CAs (`socket.authorized`) says whether it chains there.
 * - A TLS-terminating proxy: the certificate in TESSERA_CLIENT_CERT_HEADER (Envoy's
 *   `x-forwarded-client-cert` with its `Cert="…"` element, or nginx's `$ssl_client_escaped_cert`,
 *   a URL-encoded PEM), believed only when the TCP peer is one of TESSERA_TRUSTED_PROXIES. From
 *   anyone else the header is ignored (and logged, at most once a minute), and the connection's
 *   own certificate, if any, counts. From a trusted proxy the header is the only source: the
 *   proxy's own certificate on the hop to Tessera is not the caller's.
 *
 * A certificate is `chainVerified` only when it chains to TESSERA_TLS_CLIENT_CA — also when it
 * came from a proxy, which may have verified it against other CAs or not at all: a header
 * certificate must be issued directly by one of the certificates in that file (put intermediate
 * CAs there) and be within its validity period. Only a chain-verified certificate can satisfy
 * `tls_client_auth` (RFC 8705 §2.1); any certificate the TLS handshake (or the trusted proxy)
 * accepted may still satisfy `self_signed_tls_client_auth`, whose trust is the registered key
 * (RFC 8705 §2.2).
 */
import { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import type { ClientCertificate } from "../oauth/token/token-request.js";
import { canonicalAddress, trustedProxyMatcher, type TrustedProxySubnet } from "./client-address.js";

/** A request as both transports have it: Node's HTTP/1.1 and HTTP/2 requests both fit. */
export interface CertificateBearingRequest {
  readonly socket?: unknown;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export type ClientCertificateResolver = (request: CertificateBearingRequest) => ClientCertificate | undefined;

/**
 * Largest header value parsed. A PEM certificate with a long chain of SANs is a few KiB, and
 * URL-encoding can triple it; Envoy may add the chain and other elements. Longer values are
 * ignored whole rather than parsed.
 */
export const MAX_CLIENT_CERT_HEADER_BYTES = 32 * 1024;
/** How often an ignored header from an untrusted peer is logged at most. */
const IGNORED_HEADER_LOG_INTERVAL_MS = 60_000;

export interface ClientCertificateOptions {
  /** PEM of TESSERA_TLS_CLIENT_CA; undefined: no certificate is chain-verified from a header. */
  readonly clientCa?: Buffer | undefined;
  readonly trustedProxies: readonly TrustedProxySubnet[];
  /** Lower-case header name; undefined: no proxy passes certificates. */
  readonly header?: string | undefined;
  readonly now?: () => Date;
  /** Warns about headers ignored from untrusted peers (rate-limited here). */
  readonly warn?: (details: Record<string, unknown>, message: string) => void;
}

export function clientCertificateResolver(options: ClientCertificateOptions): ClientCertificateResolver {
  const authorities = options.clientCa ? certificateAuthorities(options.clientCa) : [];
  const isTrustedProxy = trustedProxyMatcher(options.trustedProxies);
  const now = options.now ?? (() => new Date());
  const header = options.header;
  let lastWarning = -Infinity;
  let ignoredSinceWarning = 0;
  return (request) => {
    if (header !== undefined) {
      const value = request.headers[header];
      const peer = canonicalAddress((request.socket as { remoteAddress?: string } | null | undefined)?.remoteAddress);
      if (peer !== undefined && isTrustedProxy(peer)) {
        return value === undefined ? undefined : headerCertificate(value, authorities, now());
      }
      if (value !== undefined) {
        ignoredSinceWarning++;
        const time = now().getTime();
        if (options.warn && time - lastWarning >= IGNORED_HEADER_LOG_INTERVAL_MS) {
          options.warn({ peer, header, ignored: ignoredSinceWarning }, "client certificate header ignored: the peer is not a trusted proxy (TESSERA_TRUSTED_PROXIES)");
          lastWarning = time;
          ignoredSinceWarning = 0;
        }
      }
    }
    return connectionCertificate(request.socket);
  };
}

/** The connection's own client certificate; verified when OpenSSL chained it to the configured CAs. */
export function connectionCertificate(rawSocket: unknown): ClientCertificate | undefined {
  const socket = rawSocket as Partial<TLSSocket> | null | undefined;
  if (!socket?.encrypted || !socket.getPeerCertificate) return undefined;
  const certificate = socket.getPeerCertificate();
  if (!certificate?.raw) return undefined;
  return { der: certificate.raw, chainVerified: socket.authorized === true };
}

function certificateAuthorities(pem: Buffer): X509Certificate[] {
  const blocks = pem.toString("latin1").match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new X509Certificate(block)).filter((certificate) => certificate.ca);
}

/** The certificate a trusted proxy passed; undefined when the value holds none we can read. */
function headerCertificate(value: string | string[], authorities: readonly X509Certificate[], now: Date): ClientCertificate | undefined {
  // A repeated header is two answers to one question: believe neither.
  if (Array.isArray(value)) return undefined;
  if (value.length === 0 || value.length > MAX_CLIENT_CERT_HEADER_BYTES) return undefined;
  const pem = certificatePem(value);
  if (pem === undefined) return undefined;
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch {
    return undefined;
  }
  return { der: certificate.raw, chainVerified: issuedByOneOf(certificate, authorities, now) };
}

/**
 * The PEM in the header: the whole value URL-decoded (nginx `$ssl_client_escaped_cert`), or the
 * `Cert` element of the last XFCC element (Envoy appends its element last; earlier ones came
 * from further away).
 */
function certificatePem(value: string): string | undefined {
  const trimmed = value.trim();
  if (/^(?:-----|%2D%2D%2D%2D%2D)/i.test(trimmed)) return pemOf(decode(trimmed));
  const elements = splitOutsideQuotes(trimmed, ",");
  const last = elements.at(-1);
  if (last === undefined) return undefined;
  for (const pair of splitOutsideQuotes(last, ";")) {
    const equals = pair.indexOf("=");
    if (equals < 0 || pair.slice(0, equals).trim().toLowerCase() !== "cert") continue;
    let raw = pair.slice(equals + 1).trim();
    if (raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2) raw = raw.slice(1, -1).replace(/\\(.)/g, "$1");
    return pemOf(decode(raw));
  }
  return undefined;
}

function decode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function pemOf(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const match = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text);
  return match?.[0];
}

/** Splits on a separator outside double quotes (XFCC quotes values holding `,` `;` `=`). */
function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (char === "\\" && quoted) index++;
    else if (char === '"') quoted = !quoted;
    else if (char === separator && !quoted) {
      parts.push(text.slice(start, index));
      start = index + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function issuedByOneOf(certificate: X509Certificate, authorities: readonly X509Certificate[], now: Date): boolean {
  if (!withinValidity(certificate, now)) return false;
  return authorities.some((authority) => {
    try {
      return withinValidity(authority, now) && certificate.checkIssued(authority) && certificate.verify(authority.publicKey);
    } catch {
      return false;
    }
  });
}

function withinValidity(certificate: X509Certificate, now: Date): boolean {
  const time = now.getTime();
  return new Date(certificate.validFrom).getTime() <= time && time <= new Date(certificate.validTo).getTime();
}
