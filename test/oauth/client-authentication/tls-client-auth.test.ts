/**
 * RFC 8705 §2.1.2: a tls_client_auth client's certificate must carry the one subject DN or SAN
 * it registered, compared with the normalisation distinguished-name.ts and tls-client-auth.ts
 * document. Certificates are made with openssl.
 */
import { X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client, TlsClientAuthNames } from "../../../src/clients/client.js";
import { parseRfc4514 } from "../../../src/clients/distinguished-name.js";
import { certificateNames } from "../../../src/oauth/client-authentication/tls-client-auth.js";
import { mayAuthenticateWith } from "../../../src/oauth/client-authentication/client-authenticator.js";
import { certificateWorkspace, type CertificateWorkspace } from "../../support/mtls.js";

const NO_NAMES: TlsClientAuthNames = {
  tlsClientAuthSubjectDn: null,
  tlsClientAuthSanDns: null,
  tlsClientAuthSanUri: null,
  tlsClientAuthSanIp: null,
  tlsClientAuthSanEmail: null,
};
const registering = (names: Partial<TlsClientAuthNames>) => ({ ...NO_NAMES, ...names }) as unknown as Client;

describe("tls_client_auth certificate names", () => {
  let workspace: CertificateWorkspace;
  let certificate: X509Certificate;

  beforeAll(() => {
    workspace = certificateWorkspace();
    const issued = workspace.authority("names-ca").issue("names", {
      subject: "/C=DE/O=Example, Inc./OU=pay/CN=billing worker",
      san: "DNS:billing.example,URI:spiffe://example.org/billing,IP:10.0.0.1,IP:::1,email:ops@example.org",
    });
    certificate = new X509Certificate(issued.cert);
  });
  afterAll(() => workspace?.remove());

  it.each([
    ["the same DN in RFC 4514 order", "CN=billing worker,OU=pay,O=Example\\, Inc.,C=DE", true],
    ["types by OID and values in another case with extra spaces", "2.5.4.3=Billing  Worker, ou=PAY, o=example\\, inc., c=de", true],
    ["a hex-escaped comma", "CN=billing worker,OU=pay,O=Example\\2C Inc.,C=DE", true],
    ["the attributes in certificate order (reversed)", "C=DE,O=Example\\, Inc.,OU=pay,CN=billing worker", false],
    ["one attribute missing", "CN=billing worker,OU=pay,C=DE", false],
    ["another CN", "CN=billing,OU=pay,O=Example\\, Inc.,C=DE", false],
  ])("subject DN: %s → %s", (_case, dn, expected) => {
    expect(certificateNames(certificate, registering({ tlsClientAuthSubjectDn: dn }))).toBe(expected);
  });

  it.each([
    [{ tlsClientAuthSanDns: "BILLING.example." }, true],
    [{ tlsClientAuthSanDns: "other.example" }, false],
    [{ tlsClientAuthSanUri: "spiffe://example.org/billing" }, true],
    [{ tlsClientAuthSanUri: "spiffe://example.org/Billing" }, false],
    [{ tlsClientAuthSanIp: "10.0.0.1" }, true],
    [{ tlsClientAuthSanIp: "0:0::1" }, true],
    [{ tlsClientAuthSanIp: "10.0.0.2" }, false],
    [{ tlsClientAuthSanEmail: "OPS@example.org" }, true],
    [{ tlsClientAuthSanEmail: "dev@example.org" }, false],
  ])("SAN %o → %s", (names, expected) => {
    expect(certificateNames(certificate, registering(names))).toBe(expected);
  });

  it("refuses strings that are not distinguished names", () => {
    for (const dn of ["", "CN", "=x", "CN=a,", "CN=#0403", "CN=a\\"]) expect(parseRfc4514(dn), dn).toBeUndefined();
  });
});

describe("token_endpoint_auth_method decides the methods a client may use (RFC 7591 §2)", () => {
  it.each([
    [null, ["client_secret_basic", "client_secret_post", "private_key_jwt", "spiffe_jwt"], ["tls_client_auth", "self_signed_tls_client_auth"]],
    ["client_secret_basic", ["client_secret_basic", "client_secret_post"], ["private_key_jwt", "tls_client_auth"]],
    ["client_secret_post", ["client_secret_basic", "client_secret_post"], ["spiffe_jwt", "self_signed_tls_client_auth"]],
    ["private_key_jwt", ["private_key_jwt"], ["client_secret_basic", "spiffe_jwt", "tls_client_auth"]],
    ["tls_client_auth", ["tls_client_auth"], ["client_secret_basic", "client_secret_post", "private_key_jwt", "self_signed_tls_client_auth"]],
    ["self_signed_tls_client_auth", ["self_signed_tls_client_auth"], ["client_secret_post", "tls_client_auth"]],
  ] as const)("registered %s", (registered, allowed, refused) => {
    for (const method of allowed) expect(mayAuthenticateWith(registered, method), method).toBe(true);
    for (const method of refused) expect(mayAuthenticateWith(registered, method), method).toBe(false);
  });
});
