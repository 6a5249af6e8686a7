#!/usr/bin/env node
/**
 * The `tessera` command: runs src/cli/main.ts through tsx, so a clone works after `npm ci`
 * with nothing compiled. tsx reads this repository's tsconfig wherever the command is run from.
 */
import { fileURLToPath } from "node:url";
import { register } from "tsx/esm/api";

register({ tsconfig: fileURLToPath(new URL("../tsconfig.json", import.meta.url)) });
await import("../src/cli/main.ts");
