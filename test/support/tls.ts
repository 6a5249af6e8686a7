/**
 * A throwaway self-signed certificate for 127.0.0.1 (P-256, one day), made with openssl, for
 * tests that start Tessera with TLS.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export interface TestCertificate {
  /** The environment that makes Tessera terminate TLS with this certificate. */
  readonly env: { readonly TESSERA_TLS_CERT: string; readonly TESSERA_TLS_KEY: string };
  /** The certificate, to trust it as its own CA. */
  readonly ca: Buffer;
  remove(): void;
}

export function selfSignedCertificate(): TestCertificate {
  const dir = mkdtempSync(path.join(tmpdir(), "tessera-tls-"));
  const cert = path.join(dir, "cert.pem");
  const key = path.join(dir, "key.pem");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
    "-keyout", key, "-out", cert,
  ], { stdio: "ignore" });
  return {
    env: { TESSERA_TLS_CERT: cert, TESSERA_TLS_KEY: key },
    ca: readFileSync(cert),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
