/**
 * The TLS client certificate reaches the core only from a TLS connection whose certificate
 * verified (RFC 8705 §2): never from a cleartext socket or an unverified peer.
 */
import { describe, expect, it } from "vitest";
import { verifiedClientCertificate } from "../../src/transport/client-certificate.js";

const raw = Buffer.from("certificate in DER");
const tlsSocket = (authorized: boolean) => ({ encrypted: true, authorized, getPeerCertificate: () => ({ raw }) });

describe("verifiedClientCertificate", () => {
  it("gives the DER of a verified peer certificate on a TLS connection", () => {
    expect(verifiedClientCertificate({ socket: tlsSocket(true) })).toEqual({ der: raw });
  });

  it("gives nothing for an unverified peer, a cleartext socket, or no socket", () => {
    expect(verifiedClientCertificate({ socket: tlsSocket(false) })).toBeUndefined();
    expect(verifiedClientCertificate({ socket: { remoteAddress: "127.0.0.1" } })).toBeUndefined();
    expect(verifiedClientCertificate({ socket: null })).toBeUndefined();
    expect(verifiedClientCertificate({ socket: { encrypted: true, authorized: true, getPeerCertificate: () => ({}) } })).toBeUndefined();
  });
});
