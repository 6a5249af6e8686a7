#!/usr/bin/env node
/**
 * The `tessera` command: runs src/cli/main.ts through tsx, so a clone works after `npm ci`
 * with nothing compiled. tsx reads this repository's tsconfig wherever the command is run from.
 *
 * CommonJS, like src/main.cts and for the same reason: `tessera serve` signs on libuv's thread
 * pool, whose size is fixed before the first ES module loads — one thread per core unless
 * UV_THREADPOOL_SIZE says otherwise.
 */
process.env.UV_THREADPOOL_SIZE ??= String(require("node:os").availableParallelism());

(async () => {
  const { pathToFileURL } = require("node:url");
  const path = require("node:path");
  const { register } = await import("tsx/esm/api");
  register({ tsconfig: path.join(__dirname, "../tsconfig.json") });
  await import(pathToFileURL(path.join(__dirname, "../src/cli/main.ts")).href);
})();
