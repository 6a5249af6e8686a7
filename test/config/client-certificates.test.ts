/**
 * TESSERA_TLS_CLIENT_CA (a PEM file of CA certificates) and TESSERA_CLIENT_CERT_HEADER (a header
 * name, believed only from TESSERA_TRUSTED_PROXIES, so it needs them).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/config.js";

const BASE = { TESSERA_DATA_DIR: "/tmp/tessera-config-test" };
const dir = mkdtempSync(path.join(tmpdir(), "tessera-ca-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("client certificate settings", () => {
  it("are off by default", () => {
    const config = loadConfig(BASE);
    expect(config.tlsClientCa).toBeUndefined();
    expect(config.clientCertHeader).toBeUndefined();
  });

  it("read the CA file and the header name (in lower case)", () => {
    const file = path.join(dir, "ca.pem");
    writeFileSync(file, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    const config = loadConfig({ ...BASE, TESSERA_TLS_CLIENT_CA: file, TESSERA_TRUSTED_PROXIES: "10.0.0.0/8", TESSERA_CLIENT_CERT_HEADER: "X-Forwarded-Client-Cert" });
    expect(config.tlsClientCa?.toString()).toContain("BEGIN CERTIFICATE");
    expect(config.clientCertHeader).toBe("x-forwarded-client-cert");
  });

  it("refuse a CA file without a certificate, or missing", () => {
    const file = path.join(dir, "empty.pem");
    writeFileSync(file, "nothing here");
    expect(() => loadConfig({ ...BASE, TESSERA_TLS_CLIENT_CA: file })).toThrow(/TESSERA_TLS_CLIENT_CA/);
    expect(() => loadConfig({ ...BASE, TESSERA_TLS_CLIENT_CA: path.join(dir, "absent.pem") })).toThrow(ConfigError);
  });

  it("refuse a header without trusted proxies, and a value that is not a header name", () => {
    expect(() => loadConfig({ ...BASE, TESSERA_CLIENT_CERT_HEADER: "x-forwarded-client-cert" })).toThrow(/TESSERA_TRUSTED_PROXIES/);
    expect(() => loadConfig({ ...BASE, TESSERA_TRUSTED_PROXIES: "10.0.0.0/8", TESSERA_CLIENT_CERT_HEADER: "x client cert" })).toThrow(/TESSERA_CLIENT_CERT_HEADER/);
  });
});
