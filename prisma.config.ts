// Prisma CLI configuration. Only `prisma generate` is used offline; Tessera applies
// migrations itself at start-up (src/store/migrations.ts).
import { defineConfig } from "prisma/config";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  // env("DATABASE_URL") throws when unset; generate does not need a URL.
  datasource: { url: process.env.DATABASE_URL ?? "" },
});
