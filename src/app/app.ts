/**
 * The composition root's public entry: open the storage, wire the parts (`wiring.ts`) and run
 * them (`runtime.ts`). The room under src/app/ is the only one that sees every other room, the
 * only place dependencies are constructed, and the only reader of Config.
 */
import type { Config } from "../config/config.js";
import type { FederationDirectory } from "../federation/federation.js";
import { resolveKeyEncryptionKeys } from "../keys/key-encryption.js";
import type { Logger } from "../log/logger.js";
import { openDatabase } from "../store/database.js";
import { startRuntime } from "./runtime.js";
import { wireApp } from "./wiring.js";

export { keyPolicy } from "./schedule.js";

export interface App {
  readonly port: number;
  readonly config: Config;
  /** Runs the periodic work now (key lifecycle, key reload); the timers do the same on their own. */
  maintain(): Promise<void>;
  /** The trusted issuers and policies this replica holds in memory, as the token path reads them. */
  readonly federationDirectory: FederationDirectory;
  /** Graceful stop: refuse new work, drain, close storage. */
  close(): Promise<void>;
}

export interface AppOptions {
  readonly log: Logger;
  readonly now?: () => Date;
}

export async function startApp(config: Config, options: AppOptions): Promise<App> {
  const { log } = options;
  const now = options.now ?? (() => new Date());

  const keks = resolveKeyEncryptionKeys({
    kek: config.kek,
    kekPrevious: config.kekPrevious,
    embedded: config.storage.kind === "embedded",
    dataDir: config.dataDir,
    log,
  });

  const database = await openDatabase(config.storage);
  try {
    const wiring = wireApp(config, { log, now, keks, database });
    const running = await startRuntime(config, wiring, { log, now });
    return { port: running.port, config, federationDirectory: wiring.federationDirectory, maintain: running.maintain, close: running.close };
  } catch (error) {
    await database.close().catch(() => {});
    throw error;
  }
}
