/**
 * The server process: read the configuration, start Tessera, stop cleanly on SIGTERM/SIGINT.
 * Loaded by src/main.cts, which sizes libuv's thread pool first, and by `tessera serve`.
 */
import { startApp } from "./app/app.js";
import { ConfigError, loadConfig } from "./config/config.js";
import { KekError } from "./keys/key-encryption.js";
import { limitHeapGrowth } from "./heap-growth.js";
import { createLogger, endLog, type Logger } from "./log/logger.js";

/** How long the last log lines get to reach stdout before the process exits anyway. */
const LOG_END_TIMEOUT_MS = 1_000;

async function main(): Promise<void> {
  limitHeapGrowth();
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`tessera: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const log = createLogger({ level: config.logLevel });
  let app;
  try {
    app = await startApp(config, { log });
  } catch (error) {
    const known = error instanceof KekError;
    log.fatal({ err: known ? undefined : error }, known ? (error as Error).message : "tessera failed to start");
    process.stderr.write(`tessera: failed to start: ${(error as Error).message}\n`);
    return exit(log, 1);
  }
  const stop = (signal: NodeJS.Signals) => {
    log.info({ signal }, "shutting down");
    // A second signal, or a drain past the deadline, ends the process at once.
    const hardStop = setTimeout(() => void exit(log, 1, 0), config.shutdownTimeoutMs + 2_000);
    hardStop.unref();
    process.once(signal, () => void exit(log, 1, 0));
    app.close().then(
      () => exit(log, 0),
      (error: unknown) => {
        log.error({ err: error }, "error during shutdown");
        return exit(log, 1);
      },
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

/** Exits once the log is ended, whatever became of stdout (its reader may be gone). */
async function exit(log: Logger, code: number, logTimeoutMs = LOG_END_TIMEOUT_MS): Promise<never> {
  await endLog(log, logTimeoutMs);
  process.exit(code);
}

await main();
