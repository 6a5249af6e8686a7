/**
 * The JSON Schema of configuration documents, derived from the same protobuf descriptors the
 * CLI checks specs with, so editors flag what `tessera apply` would refuse. Committed as
 * schema/tessera-config.schema.json by scripts/generate-config-schema.ts; a test regenerates it
 * and compares.
 */
import { ScalarType, type DescEnum, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { RESOURCE_KINDS } from "./config-kinds.js";
import { specFields } from "./config-spec.js";

type Schema = { [key: string]: unknown };

const WELL_KNOWN: Readonly<Record<string, Schema>> = {
  "google.protobuf.Struct": { type: "object" },
  "google.protobuf.Duration": { type: "string", pattern: "^\\d+(\\.\\d{1,9})?s$", description: 'Seconds with an "s", e.g. "3600s".' },
  "google.protobuf.Timestamp": { type: "string", format: "date-time" },
};

const ID_DESCRIPTIONS: Readonly<Record<string, string>> = {
  Client: "The client id: 3 to 128 characters of A-Z a-z 0-9 . _ ~ -.",
  TrustedIssuer: "The issuer identifier: the exact `iss` its tokens carry (an absolute URL).",
  FederationPolicy: "The policy id: 1 to 63 characters of a-z 0-9 -, starting with a letter, not ending with -.",
  DelegationPolicy: "The policy id: 1 to 63 characters of a-z 0-9 -, starting with a letter, not ending with -.",
};

export function configSchema(): Schema {
  const defs: Record<string, Schema> = {};
  const refOf = (message: DescMessage): Schema => {
    const known = WELL_KNOWN[message.typeName];
    if (known) return known;
    if (!defs[message.typeName]) {
      defs[message.typeName] = {}; // placeholder: a message may name itself
      defs[message.typeName] = messageSchema(message.fields, refOf);
    }
    return { $ref: `#/$defs/${message.typeName}` };
  };
  const kinds = RESOURCE_KINDS.map((kind) => {
    const name = `${kind.shape.schema.typeName}.Spec`;
    defs[name] = messageSchema(specFields(kind.shape), refOf);
    const properties: Schema = {
      kind: { const: kind.kind },
      id: { type: "string", minLength: 1, description: ID_DESCRIPTIONS[kind.kind] ?? "The resource's id." },
      spec: { $ref: `#/$defs/${name}` },
    };
    if (kind.kind === "Client") properties.secretFrom = { $ref: "#/$defs/SecretFrom" };
    return { type: "object", properties, required: ["kind", "id"], additionalProperties: false };
  });
  defs.SecretFrom = {
    description: "Where the secret to import comes from when the client is created; never the file itself.",
    oneOf: [
      { type: "object", properties: { env: { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_]*$" } }, required: ["env"], additionalProperties: false },
      { type: "object", properties: { file: { type: "string", minLength: 1 } }, required: ["file"], additionalProperties: false },
    ],
  };
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "Tessera configuration document",
    description: "One document of `tessera apply -f`: {kind, id, spec}, spec in protobuf JSON names. Generated from proto/tessera/v1 by scripts/generate-config-schema.ts.",
    oneOf: kinds,
    $defs: Object.fromEntries(Object.entries(defs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  };
}

function messageSchema(fields: readonly DescField[], refOf: (message: DescMessage) => Schema): Schema {
  const properties: Schema = {};
  for (const field of fields) properties[field.jsonName] = fieldSchema(field, refOf);
  return { type: "object", properties, additionalProperties: false };
}

function fieldSchema(field: DescField, refOf: (message: DescMessage) => Schema): Schema {
  switch (field.fieldKind) {
    case "scalar":
      return scalarSchema(field.scalar);
    case "enum":
      return enumSchema(field.enum);
    case "message":
      return refOf(field.message);
    case "list":
      return {
        type: "array",
        items: field.listKind === "scalar" ? scalarSchema(field.scalar) : field.listKind === "enum" ? enumSchema(field.enum) : refOf(field.message),
      };
    case "map":
      return {
        type: "object",
        additionalProperties: field.mapKind === "scalar" ? scalarSchema(field.scalar) : field.mapKind === "enum" ? enumSchema(field.enum) : refOf(field.message),
      };
  }
}

function scalarSchema(scalar: ScalarType): Schema {
  switch (scalar) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return { type: "string" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return { type: "number" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", minimum: 0, maximum: 4294967295 };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", minimum: -2147483648, maximum: 2147483647 };
    default:
      // 64-bit integers are strings in protobuf JSON; numbers are accepted too.
      return { type: ["integer", "string"], pattern: "^-?\\d+$" };
  }
}

function enumSchema(desc: DescEnum): Schema {
  return { enum: desc.values.map((value) => value.name) };
}

/** Where the schema is committed, and its exact text there. */
export const CONFIG_SCHEMA_FILE = new URL("../../../schema/tessera-config.schema.json", import.meta.url);

export function configSchemaText(): string {
  return `${JSON.stringify(configSchema(), null, 2)}\n`;
}
