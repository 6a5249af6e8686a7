/**
 * Writes schema/tessera-config.schema.json, the JSON Schema of `tessera apply` documents, from
 * the protobuf descriptors. Run after changing a resource message:
 *
 *   npm run generate:config-schema
 */
import { writeFileSync } from "node:fs";
import { CONFIG_SCHEMA_FILE, configSchemaText } from "../src/cli/config/config-schema.js";

writeFileSync(CONFIG_SCHEMA_FILE, configSchemaText());
console.log(`wrote ${CONFIG_SCHEMA_FILE}`);
