/**
 * Process entry (`npm start` runs dist/main.cjs). CommonJS on purpose: libuv sizes its thread
 * pool once, on first use, and the ES module loader uses it to read the first module — so only
 * code that runs before any ES module is loaded can still choose the size.
 *
 * RSA signing and all verification run on that pool (src/keys/jws-signer.ts, src/keys/jwt.ts).
 * libuv's default of 4 threads oversubscribes a small machine: more pool threads than cores
 * preempt the event loop, and fewer tokens are issued. So the default is one thread per core;
 * an operator's UV_THREADPOOL_SIZE is kept as given.
 */
process.env.UV_THREADPOOL_SIZE ??= String(require("node:os").availableParallelism());
void import("./server.js");
