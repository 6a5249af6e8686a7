import { describe, expect, it } from "vitest";
import { NO_FILTERS, migrationsTarget, readSchemaFiles, schemaTarget, withSchemaEngine } from "../../scripts/prisma-engine.js";

// Prisma's own differ (the wasm schema engine) replays prisma/migrations into an empty shadow
// database and compares the result with schema.prisma: the check `prisma migrate diff
// --from-migrations … --to-schema … --exit-code` would make, where exit code 2 means "differs".
describe("prisma/migrations against prisma/schema.prisma", () => {
  it("builds exactly the schema, and the check notices when they differ", { timeout: 60_000 }, async () => {
    const [schema, ...more] = readSchemaFiles();
    expect(schema, "one schema file").toBeDefined();
    expect(more).toEqual([]);
    // A field the migrations do not create, added to an in-memory copy of the schema.
    const withExtraField = schema!.content.replace(/^(model Client \{\n)/m, "$1  nickname String?\n");
    expect(withExtraField).not.toBe(schema!.content);

    const [actual, drifted] = await withSchemaEngine(async (engine) => [
      await engine.diff({ from: migrationsTarget(), to: schemaTarget([schema!]), script: true, exitCode: true, filters: NO_FILTERS }),
      await engine.diff({
        from: migrationsTarget(),
        to: schemaTarget([{ path: schema!.path, content: withExtraField }]),
        script: true,
        exitCode: true,
        filters: NO_FILTERS,
      }),
    ]);

    expect(
      actual.exitCode,
      `prisma/migrations does not produce schema.prisma; missing SQL (npx tsx scripts/migration-diff.ts --name <name> writes it):\n${actual.stdout}`,
    ).toBe(0);
    expect(drifted.exitCode).toBe(2);
    expect(drifted.stdout).toMatch(/ALTER TABLE "clients" ADD COLUMN\s+"nickname" TEXT;/);
  });
});
