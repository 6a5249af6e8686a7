/**
 * Tessera as an operator runs it: a process that refuses bad configuration with a message and
 * a non-zero status, and stops cleanly on SIGTERM.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../support/ports.js";
import { spawnServer } from "../support/server-process.js";

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "tessera-process-"));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("the tessera process", () => {
  it.each([
    [{ PORT: "eighty" }, "PORT must be a whole number"],
    [{ TESSERA_ISSUER: "https://issuer.example/?tenant=1" }, "TESSERA_ISSUER must not have a query"],
    [{ DATABASE_URL: "mysql://localhost/db" }, "DATABASE_URL must be a postgres://"],
    [{ TESSERA_KEK: "c2hvcnQ=" }, "TESSERA_KEK must be 32 bytes"],
    [{ TESSERA_ADMIN_CLIENT_ID: "admin" }, "must be set together"],
    [{ TESSERA_DEFAULT_ALG: "HS256" }, "TESSERA_DEFAULT_ALG must be one of"],
  ])("exits with status 2 and names the variable for %j", async (env, message) => {
    const server = spawnServer({ TESSERA_DATA_DIR: tempDir(), ...env });
    expect(await server.exited).toBe(2);
    expect(server.output()).toContain(message);
  });

  it("refuses to start on PostgreSQL without a key-encryption key", async () => {
    const server = spawnServer({
      PORT: String(await freePort()),
      DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test?schema=tessera_never_created",
      TESSERA_DATA_DIR: tempDir(),
    });
    expect(await server.exited).toBe(1);
    expect(server.output()).toContain("TESSERA_KEK or TESSERA_KEK_FILE is required");
  });

  it("serves on the embedded database and exits 0 on SIGTERM", async () => {
    const port = await freePort();
    const server = spawnServer({ PORT: String(port), TESSERA_HOST: "127.0.0.1", TESSERA_DATA_DIR: tempDir() });
    await server.listening;
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect(server.output()).toContain("generated a key-encryption key");
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('"msg":"tessera stopped"');
  });
});
