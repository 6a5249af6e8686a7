import path from "node:path";
import { fileURLToPath } from "node:url";

/** prisma/migrations, wherever the process was started from. */
export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../prisma/migrations");
