/**
 * The embedded database's data directory holds secret hashes (readable in pg_wal), sealed
 * signing keys and the generated KEK: Tessera creates it 0700 and refuses to start on one that
 * group or others can enter, naming the directory and the fix.
 */
import { chmodSync, cpSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { startTestServer } from "../support/test-server.js";

const modeOf = (target: string) => statSync(target).mode & 0o777;

describe("the data directory of the embedded database", () => {
  const roots: string[] = [];
  afterEach(() => {
    for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
  });

  /** A private scratch root, and a data directory path inside it holding the migrated template. */
  function dataDirWithTemplate(): string {
    const root = mkdtempSync(path.join(tmpdir(), "tessera-datadir-"));
    roots.push(root);
    const dataDir = path.join(root, "data");
    cpSync(inject("pgliteTemplate"), path.join(dataDir, "pglite"), { recursive: true });
    return dataDir;
  }

  it("is created with mode 0700, its PGlite directory tightened to 0700 and the generated KEK written 0600", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "tessera-datadir-"));
    roots.push(root);
    const dataDir = path.join(root, "fresh", "data");
    const server = await startTestServer({ storage: "embedded", reuse: { dataDir, databaseUrl: undefined } });
    try {
      expect(modeOf(dataDir)).toBe(0o700);
      expect(modeOf(path.join(dataDir, "pglite"))).toBe(0o700);
      expect(modeOf(path.join(dataDir, "tessera.kek"))).toBe(0o600);
    } finally {
      await server.stop();
    }
  });

  it.each([["0755", 0o755], ["0750", 0o750], ["0701", 0o701]] as const)("refuses to start when an existing data directory has mode %s, naming it and chmod 700", async (label, mode) => {
    const dataDir = dataDirWithTemplate();
    chmodSync(dataDir, mode);
    await expect(startTestServer({ storage: "embedded", reuse: { dataDir, databaseUrl: undefined } })).rejects.toThrow(
      `the data directory ${dataDir} is open to other users (mode ${label})`,
    );
    await expect(startTestServer({ storage: "embedded", reuse: { dataDir, databaseUrl: undefined } })).rejects.toThrow(`chmod 700 ${dataDir}`);
  });

  it("refuses to start when the generated KEK file is readable by others", async () => {
    const dataDir = dataDirWithTemplate();
    chmodSync(dataDir, 0o700);
    const first = await startTestServer({ storage: "embedded", reuse: { dataDir, databaseUrl: undefined } });
    await first.stop();
    const kekFile = path.join(dataDir, "tessera.kek");
    chmodSync(kekFile, 0o644);
    await expect(startTestServer({ storage: "embedded", reuse: { dataDir, databaseUrl: undefined } })).rejects.toThrow(`chmod 600 ${kekFile}`);
    chmodSync(kekFile, 0o600);
    const second = await startTestServer({ storage: "embedded", reuse: { dataDir, databaseUrl: undefined } });
    await second.stop();
  });
});
