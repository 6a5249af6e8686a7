/**
 * Shutdown finishes whatever became of the log stream: a supervisor that died leaves stdout a
 * pipe with no reader (every write fails with EPIPE), and the process must still exit.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../support/ports.js";
import { spawnServer } from "../support/server-process.js";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Resolves with "still running" when the process has not exited after `ms`. */
function exitedWithin(exited: Promise<number | string>, ms: number): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve("still running"), ms)));
  return Promise.race([exited, late]).finally(() => clearTimeout(timer));
}

describe("the tessera process on SIGTERM", () => {
  it("exits 0 when the reader of its stdout is gone", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tessera-shutdown-"));
    dirs.push(dir);
    const port = await freePort();
    const server = spawnServer({ PORT: String(port), TESSERA_HOST: "127.0.0.1", TESSERA_DATA_DIR: dir, TESSERA_SHUTDOWN_TIMEOUT: "2s" });
    try {
      await server.listening;
      // The supervisor dies: the reading end of stdout closes, and each later write is EPIPE.
      server.child.stdout!.destroy();
      server.child.kill("SIGTERM");
      // The drain deadline is 2 s and the hard stop 2 s after it; a hang is forever.
      expect(await exitedWithin(server.exited, 20_000)).toBe(0);
    } finally {
      server.child.kill("SIGKILL");
    }
  }, 60_000);
});
