/**
 * Secrets chosen outside Tessera — an ImportClient secret, the bootstrap admin's
 * TESSERA_ADMIN_CLIENT_SECRET — pass one rule (src/clients/client-secret.ts): 32 to 512
 * characters and an estimated 112 bits or more, so placeholders and patterns are refused while
 * what `openssl rand -base64 32` and `openssl rand -hex 32` print is always accepted.
 */
import { randomBytes } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chosenSecretWeakness } from "../../src/clients/client-secret.js";
import { ConfigError, loadConfig } from "../../src/config/config.js";
import { adminApi } from "../support/clients.js";
import { ADMIN_CLIENT, startTestServer, type TestServer } from "../support/test-server.js";

/** Secrets that are long enough but guessable. */
const WEAK = [
  "a".repeat(32),
  "Aa1!".repeat(10),
  "abcdefghijklmnopqrstuvwxyz0123456789",
  "ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklmnopqrstuvwxyz",
  "0123456789".repeat(4),
  "changeme-changeme-changeme-changeme",
  "P@ssw0rdP@ssw0rdP@ssw0rdP@ssw0rd",
  "abcabcabcabcabcabcabcabcabcabcab",
];

/** A hex secret of `bytes` random bytes that happens to lack some hex digits (as 1 in 4 of `-hex 32` outputs do). */
function hexWithoutDigits(bytes: number, missing: string): string {
  const allowed = [..."0123456789abcdef"].filter((digit) => !missing.includes(digit));
  return Array.from(randomBytes(bytes * 2), (byte) => allowed[byte % allowed.length]).join("");
}

describe("secrets chosen outside Tessera", () => {
  it("refuses guessable secrets of 32 characters or more", () => {
    for (const secret of WEAK) expect(chosenSecretWeakness(secret), secret).toMatch(/too predictable/);
  });

  it("accepts every output of openssl rand -base64 32 and -hex 32, and the test suite's secrets", () => {
    for (let run = 0; run < 500; run++) {
      expect(chosenSecretWeakness(randomBytes(32).toString("base64"))).toBeUndefined();
      expect(chosenSecretWeakness(randomBytes(32).toString("hex"))).toBeUndefined();
      expect(chosenSecretWeakness(randomBytes(32).toString("base64url"))).toBeUndefined();
    }
    expect(chosenSecretWeakness(hexWithoutDigits(32, "f"))).toBeUndefined();
    expect(chosenSecretWeakness(ADMIN_CLIENT.clientSecret)).toBeUndefined();
    expect(chosenSecretWeakness("Imported-Secret-0123456789-abcdefghijklmnop")).toBeUndefined();
  });

  it("refuses a weak TESSERA_ADMIN_CLIENT_SECRET at start-up, naming the variable", () => {
    const env = { TESSERA_ADMIN_CLIENT_ID: "admin", TESSERA_DATA_DIR: "/nonexistent" };
    expect(() => loadConfig({ ...env, TESSERA_ADMIN_CLIENT_SECRET: "a".repeat(32) })).toThrow(ConfigError);
    expect(() => loadConfig({ ...env, TESSERA_ADMIN_CLIENT_SECRET: "a".repeat(32) })).toThrow(/TESSERA_ADMIN_CLIENT_SECRET is too predictable/);
    expect(() => loadConfig({ ...env, TESSERA_ADMIN_CLIENT_SECRET: "short" })).toThrow(/TESSERA_ADMIN_CLIENT_SECRET must be 32 to 512 characters/);
    expect(loadConfig({ ...env, TESSERA_ADMIN_CLIENT_SECRET: randomBytes(32).toString("base64") }).admin?.clientId).toBe("admin");
  });

  it("refuses a key-encryption key of repeated bytes, but not as TESSERA_KEK_PREVIOUS, which is being rotated away", () => {
    const zeros = Buffer.alloc(32).toString("base64");
    expect(() => loadConfig({ TESSERA_KEK: zeros })).toThrow(/TESSERA_KEK is too predictable for a key-encryption key/);
    expect(() => loadConfig({ TESSERA_KEK: Buffer.alloc(32, 7).toString("base64") })).toThrow(/TESSERA_KEK is too predictable/);
    const rotating = loadConfig({ TESSERA_KEK: randomBytes(32).toString("base64"), TESSERA_KEK_PREVIOUS: zeros });
    expect(rotating.kekPrevious).toEqual(Buffer.alloc(32));
    for (let run = 0; run < 200; run++) expect(loadConfig({ TESSERA_KEK: randomBytes(32).toString("base64") }).kek).toHaveLength(32);
  });
});

describe("ImportClient", () => {
  let server: TestServer;
  let auth: { headers: { authorization: string } };

  beforeAll(async () => {
    server = await startTestServer({ storage: "embedded" });
    auth = { headers: { authorization: `Bearer ${await server.adminToken()}` } };
  });
  afterAll(async () => server?.destroy());

  async function importWith(clientId: string, clientSecret: string): Promise<string> {
    try {
      await adminApi(server).importClient({ client: { clientId, name: clientId }, clientSecret }, auth);
      return "ok";
    } catch (error) {
      const failure = ConnectError.from(error);
      return `${Code[failure.code]}: ${failure.rawMessage}`;
    }
  }

  it("answers INVALID_ARGUMENT for a guessable secret, saying why", async () => {
    for (const [index, secret] of WEAK.entries()) {
      expect(await importWith(`weak-${index}`, secret)).toMatch(/^InvalidArgument: client_secret: is too predictable \(about \d+ bits; at least 112 needed\)/);
    }
  });

  it("imports a random hex secret even when it lacks some hex digits", async () => {
    expect(await importWith("hex-imported", hexWithoutDigits(32, "0f"))).toBe("ok");
  });
});
