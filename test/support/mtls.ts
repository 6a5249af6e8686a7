/**
 * Client certificates made at test time with openssl (RFC 8705 tests): a CA, certificates it
 * issues with a chosen subject and SANs, and self-signed ones. Each is PEM on disk (for curl)
 * and in memory (for Node's https agent and the proxy header).
 */
import { execFileSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export interface ClientCertificateFiles {
  readonly certPath: string;
  readonly keyPath: string;
  readonly cert: Buffer;
  readonly key: Buffer;
  /** RFC 8705 §3.1 `x5t#S256`: base64url SHA-256 of the DER. */
  readonly thumbprint: string;
}

export interface TestCertificateAuthority extends ClientCertificateFiles {
  /** Issues a client certificate with this subject (openssl -subj form) and SANs (e.g. "DNS:a.example"). */
  issue(name: string, options: { subject: string; san?: string }): ClientCertificateFiles;
}

export interface CertificateWorkspace {
  authority(name: string): TestCertificateAuthority;
  selfSigned(name: string, options?: { subject?: string }): ClientCertificateFiles;
  remove(): void;
}

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: "ignore" });
}

function files(certPath: string, keyPath: string): ClientCertificateFiles {
  const cert = readFileSync(certPath);
  return {
    certPath,
    keyPath,
    cert,
    key: readFileSync(keyPath),
    thumbprint: createHash("sha256").update(new X509Certificate(cert).raw).digest("base64url"),
  };
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

export function certificateWorkspace(): CertificateWorkspace {
  const dir = mkdtempSync(path.join(tmpdir(), "tessera-mtls-"));
  const at = (name: string) => path.join(dir, name);
  return {
    authority(name) {
      const certPath = at(`${name}.pem`);
      const keyPath = at(`${name}.key`);
      openssl(["req", "-x509", ...EC_KEY, "-days", "2", "-subj", `/CN=${name}`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", keyPath, "-out", certPath]);
      return {
        ...files(certPath, keyPath),
        issue(client, options) {
          const clientKey = at(`${client}.key`);
          const request = at(`${client}.csr`);
          const clientCert = at(`${client}.pem`);
          const extensions = at(`${client}.ext`);
          writeFileSync(extensions, `basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n${options.san ? `subjectAltName=${options.san}\n` : ""}`);
          openssl(["req", "-new", ...EC_KEY, "-subj", options.subject, "-keyout", clientKey, "-out", request]);
          openssl(["x509", "-req", "-in", request, "-CA", certPath, "-CAkey", keyPath, "-CAcreateserial", "-days", "1", "-extfile", extensions, "-out", clientCert]);
          return files(clientCert, clientKey);
        },
      };
    },
    selfSigned(name, options = {}) {
      const certPath = at(`${name}.pem`);
      const keyPath = at(`${name}.key`);
      openssl(["req", "-x509", ...EC_KEY, "-days", "1", "-subj", options.subject ?? `/CN=${name}`, "-keyout", keyPath, "-out", certPath]);
      return files(certPath, keyPath);
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The certificate's public key as a JWK, as a self_signed_tls_client_auth client registers it. */
export function publicJwkOf(certificate: ClientCertificateFiles): Record<string, string> {
  return new X509Certificate(certificate.cert).publicKey.export({ format: "jwk" }) as Record<string, string>;
}
