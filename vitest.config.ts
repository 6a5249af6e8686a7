import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/**
 * The test CA (test/support/test-ca/) signs the certificates of the fake issuers tests start.
 * Workers are forked with this environment, so each one, and every server it spawns, trusts it
 * the way an operator makes Tessera trust a private CA: NODE_EXTRA_CA_CERTS, read at start-up.
 */
const TEST_CA = fileURLToPath(new URL("./test/support/test-ca/ca.pem", import.meta.url));

export default defineConfig({
  // tessera/verifier resolves to its sources in tests, as in tsconfig.json (test files run
  // as server-side modules, so the SSR resolver's conditions are the ones that count).
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"], externalConditions: ["source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    env: { NODE_EXTRA_CA_CERTS: TEST_CA },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores, and each embedded database peaks at hundreds of MB: keep parallelism modest.
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default", "json"],
    outputFile: { json: "test-results/vitest.json" },
  },
});
