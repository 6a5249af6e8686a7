/**
 * Where the caller's client certificate comes from (RFC 8705): the TLS connection, with
 * OpenSSL's verdict on its chain; or a trusted proxy's header (Envoy XFCC, nginx's escaped PEM),
 * chain-checked against TESSERA_TLS_CLIENT_CA here, ignored and logged from anyone else.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { X509Certificate } from "node:crypto";
import { clientCertificateResolver, connectionCertificate, MAX_CLIENT_CERT_HEADER_BYTES } from "../../src/transport/client-certificate.js";
import { certificateWorkspace, type CertificateWorkspace, type ClientCertificateFiles, type TestCertificateAuthority } from "../support/mtls.js";

const raw = Buffer.from("certificate in DER");
const tlsSocket = (authorized: boolean) => ({ encrypted: true, authorized, getPeerCertificate: () => ({ raw }) });
const TRUSTED = [{ address: "10.0.0.0", prefix: 8, family: "ipv4" as const }];

describe("connectionCertificate", () => {
  it("gives the DER of the peer certificate on a TLS connection, chain-verified as OpenSSL found it", () => {
    expect(connectionCertificate(tlsSocket(true))).toEqual({ der: raw, chainVerified: true });
    expect(connectionCertificate(tlsSocket(false))).toEqual({ der: raw, chainVerified: false });
  });

  it("gives nothing for a cleartext socket, no socket, or no peer certificate", () => {
    expect(connectionCertificate({ remoteAddress: "127.0.0.1" })).toBeUndefined();
    expect(connectionCertificate(null)).toBeUndefined();
    expect(connectionCertificate({ encrypted: true, authorized: true, getPeerCertificate: () => ({}) })).toBeUndefined();
  });
});

describe("clientCertificateResolver with a proxy header", () => {
  let workspace: CertificateWorkspace;
  let ca: TestCertificateAuthority;
  let issued: ClientCertificateFiles;
  let foreign: ClientCertificateFiles;
  const warnings: Record<string, unknown>[] = [];
  let resolve: ReturnType<typeof clientCertificateResolver>;
  const derOf = (files: ClientCertificateFiles) => new X509Certificate(files.cert).raw;
  const from = (remoteAddress: string, value: string | string[] | undefined) => resolve({ socket: { remoteAddress }, headers: { "x-forwarded-client-cert": value } });

  beforeAll(() => {
    workspace = certificateWorkspace();
    ca = workspace.authority("header-ca");
    issued = ca.issue("header-client", { subject: "/CN=header-client", san: "DNS:header.example" });
    foreign = workspace.authority("other-ca").issue("foreign-client", { subject: "/CN=foreign" });
    resolve = clientCertificateResolver({
      clientCa: ca.cert,
      trustedProxies: TRUSTED,
      header: "x-forwarded-client-cert",
      warn: (details) => warnings.push(details),
    });
  });
  afterAll(() => workspace?.remove());

  it("reads Envoy's Cert element (URL-encoded PEM) from the last XFCC element of a trusted proxy", () => {
    const xfcc = `By=spiffe://a;Cert="${encodeURIComponent(foreign.cert.toString())}",By=spiffe://b;Hash=abc;Cert="${encodeURIComponent(issued.cert.toString())}";Subject="CN=x,O=y";DNS=header.example`;
    expect(from("10.1.2.3", xfcc)).toEqual({ der: derOf(issued), chainVerified: true });
  });

  it("reads nginx's $ssl_client_escaped_cert (the whole value a URL-encoded PEM)", () => {
    expect(from("10.1.2.3", encodeURIComponent(issued.cert.toString()))).toEqual({ der: derOf(issued), chainVerified: true });
  });

  it("passes a certificate of another CA on, not chain-verified (the proxy's CAs are not ours)", () => {
    expect(from("10.1.2.3", encodeURIComponent(foreign.cert.toString()))).toEqual({ der: derOf(foreign), chainVerified: false });
  });

  it("ignores the header from a peer that is not a trusted proxy, and logs it", () => {
    const before = warnings.length;
    expect(from("192.0.2.7", encodeURIComponent(issued.cert.toString()))).toBeUndefined();
    expect(warnings.length).toBe(before + 1);
    expect(warnings.at(-1)).toMatchObject({ peer: "192.0.2.7", header: "x-forwarded-client-cert" });
    // Rate-limited: the next ones within the interval are counted, not logged.
    from("192.0.2.7", encodeURIComponent(issued.cert.toString()));
    expect(warnings.length).toBe(before + 1);
  });

  it("gives nothing for oversized, repeated, garbled or empty values", () => {
    for (const value of [
      "x".repeat(MAX_CLIENT_CERT_HEADER_BYTES + 1),
      [encodeURIComponent(issued.cert.toString()), encodeURIComponent(issued.cert.toString())],
      "Cert=\"%E0%A4%A\"",
      "Cert=\"-----BEGIN CERTIFICATE-----%0Anot base64%0A-----END CERTIFICATE-----\"",
      "%2D%2D%2D%2D%2DBEGIN",
      "",
      ";;;,,,\"",
    ]) {
      expect(from("10.1.2.3", value)).toBeUndefined();
    }
  });

  it("from a trusted proxy without the header gives nothing, not the proxy's own certificate", () => {
    expect(resolve({ socket: { ...tlsSocket(true), remoteAddress: "10.1.2.3" }, headers: {} })).toBeUndefined();
  });
});
