/**
 * Process entry (`npm start` runs dist/main.cjs). CommonJS on purpose: libuv sizes its thread
 * pool once, on first use, and the ES module loader uses it to read the first module — so only
 * code that runs before any ES module is loaded can still choose the size.
 *
 * RSA signing and all verification run on that pool (src/keys/jws-signer.ts, src/keys/jwt.ts).
 * At least libuv's default of 4 threads, one per core beyond that: with fewer threads than that
 * on a small machine, the event loop spent more CPU per RSA token (it waited more often on the
 * pool's completion lock and slept and woke more often), though fewer threads preempt it less.
 * An operator's UV_THREADPOOL_SIZE is kept as given.
 */
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, require("node:os").availableParallelism()));
void import("./server.js");
