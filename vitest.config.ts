import { defineConfig } from "vitest/config";

export default defineConfig({
  // tessera/verifier resolves to its sources in tests, as in tsconfig.json (test files run
  // as server-side modules, so the SSR resolver's conditions are the ones that count).
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"], externalConditions: ["source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores, and each embedded database peaks at hundreds of MB: keep parallelism modest.
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default", "json"],
    outputFile: { json: "test-results/vitest.json" },
  },
});
