/**
 * A document's `spec` is the resource's protobuf message in its JSON mapping: checked here
 * against the message descriptor (unknown fields, wrong types, output-only fields — each
 * problem with its path), then turned into canonical JSON fields the plan compares with what
 * the server holds.
 */
import { create, fromJson, toJson, ScalarType, type DescEnum, type DescField, type DescMessage, type JsonValue, type MessageShape } from "@bufbuild/protobuf";
import type { PlanJson } from "./config-plan.js";

/** How a resource kind's message maps to documents. */
export interface SpecShape<Desc extends DescMessage = DescMessage> {
  readonly schema: Desc;
  /** The field holding the resource's id (proto name); it comes from the document's `id`. */
  readonly idField: string;
  /** Fields the server sets (proto names): refused in a spec, left out of exports and comparisons. */
  readonly outputOnly: readonly string[];
}

/** The fields a document may set: everything but the id and the output-only fields. */
export function specFields(shape: SpecShape): DescField[] {
  return shape.schema.fields.filter((field) => field.name !== shape.idField && !shape.outputOnly.includes(field.name));
}

function fieldNamed(schema: DescMessage, key: string): DescField | undefined {
  return schema.fields.find((field) => field.jsonName === key || field.name === key);
}

/** Checks a spec; every problem is pushed with `at` and the field's path. True when there were none. */
export function checkSpec(shape: SpecShape, spec: Readonly<Record<string, unknown>>, id: string, at: string, problems: string[]): boolean {
  const before = problems.length;
  for (const [key, value] of Object.entries(spec)) {
    const field = fieldNamed(shape.schema, key);
    const path = `spec.${key}`;
    if (!field) problems.push(`${at}: ${path} is not a field of ${shape.schema.name}`);
    else if (field.name === shape.idField) problems.push(`${at}: ${path} is the resource's id: write it as the document's id`);
    else if (shape.outputOnly.includes(field.name)) problems.push(`${at}: ${path} is set by the server and cannot be written`);
    else checkField(field, value, path, at, problems);
  }
  if (problems.length > before) return false;
  try {
    fromJson(shape.schema, { ...spec, [idJsonName(shape)]: id } as JsonValue);
  } catch (error) {
    problems.push(`${at}: spec: ${error instanceof Error ? error.message.replace(/^cannot decode message [\w.]+ from JSON: /, "") : String(error)}`);
  }
  return problems.length === before;
}

function checkField(field: DescField, value: unknown, path: string, at: string, problems: string[]): void {
  // Protobuf JSON: null means "not set".
  if (value === null) return;
  switch (field.fieldKind) {
    case "scalar":
      return checkScalar(field.scalar, value, path, at, problems);
    case "enum":
      return checkEnum(field.enum, value, path, at, problems);
    case "message":
      return checkMessage(field.message, value, path, at, problems);
    case "list":
      if (!Array.isArray(value)) return void problems.push(`${at}: ${path} must be a list`);
      value.forEach((item, index) => {
        const itemPath = `${path}[${index}]`;
        if (field.listKind === "scalar") checkScalar(field.scalar, item, itemPath, at, problems);
        else if (field.listKind === "enum") checkEnum(field.enum, item, itemPath, at, problems);
        else checkMessage(field.message, item, itemPath, at, problems);
      });
      return;
    case "map":
      if (!isObject(value)) return void problems.push(`${at}: ${path} must be a mapping`);
      for (const [key, item] of Object.entries(value)) {
        const itemPath = `${path}[${JSON.stringify(key)}]`;
        if (field.mapKind === "scalar") checkScalar(field.scalar, item, itemPath, at, problems);
        else if (field.mapKind === "enum") checkEnum(field.enum, item, itemPath, at, problems);
        else checkMessage(field.message, item, itemPath, at, problems);
      }
      return;
  }
}

function checkScalar(scalar: ScalarType, value: unknown, path: string, at: string, problems: string[]): void {
  switch (scalar) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      if (typeof value !== "string") problems.push(`${at}: ${path} must be a string`);
      return;
    case ScalarType.BOOL:
      if (typeof value !== "boolean") problems.push(`${at}: ${path} must be true or false`);
      return;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      if (typeof value !== "number") problems.push(`${at}: ${path} must be a number`);
      return;
    default:
      if (!(typeof value === "number" && Number.isInteger(value)) && !(typeof value === "string" && /^-?\d+$/.test(value))) {
        problems.push(`${at}: ${path} must be a whole number`);
      }
  }
}

function checkEnum(desc: DescEnum, value: unknown, path: string, at: string, problems: string[]): void {
  if (typeof value === "string" && desc.values.some((entry) => entry.name === value)) return;
  problems.push(`${at}: ${path} must be one of ${desc.values.map((entry) => entry.name).join(", ")}`);
}

function checkMessage(desc: DescMessage, value: unknown, path: string, at: string, problems: string[]): void {
  if (value === null) return;
  switch (desc.typeName) {
    case "google.protobuf.Struct":
      if (!isObject(value)) problems.push(`${at}: ${path} must be a mapping`);
      return;
    case "google.protobuf.Duration":
      if (typeof value !== "string" || !/^\d+(\.\d{1,9})?s$/.test(value)) problems.push(`${at}: ${path} must be a duration in seconds such as "3600s"`);
      return;
    case "google.protobuf.Timestamp":
      if (typeof value !== "string") problems.push(`${at}: ${path} must be an RFC 3339 time such as "2027-01-01T00:00:00Z"`);
      return;
  }
  if (!isObject(value)) return void problems.push(`${at}: ${path} must be a mapping`);
  for (const [key, item] of Object.entries(value)) {
    const field = fieldNamed(desc, key);
    if (!field) problems.push(`${at}: ${path}.${key} is not a field of ${desc.name}`);
    else checkField(field, item, `${path}.${key}`, at, problems);
  }
}

function idJsonName(shape: SpecShape): string {
  return shape.schema.fields.find((field) => field.name === shape.idField)!.jsonName;
}

/** The message a checked spec describes, with its id. */
export function specMessage<Desc extends DescMessage>(shape: SpecShape<Desc>, spec: Readonly<Record<string, unknown>>, id: string): MessageShape<Desc> {
  return fromJson(shape.schema, { ...spec, [idJsonName(shape)]: id } as JsonValue);
}

/**
 * Every spec field of a message in canonical JSON, by JSON name: implicit defaults written out,
 * an unset message field as null, and an empty Struct as null (the server keeps `{}` for an
 * unset claims template or metadata), so two messages compare equal exactly when a write would
 * change nothing.
 */
export function canonicalFields<Desc extends DescMessage>(shape: SpecShape<Desc>, message: MessageShape<Desc>): Record<string, PlanJson> {
  const json = toJson(shape.schema, message, { alwaysEmitImplicit: true }) as Record<string, PlanJson>;
  const fields: Record<string, PlanJson> = {};
  for (const field of specFields(shape)) {
    const value = Object.hasOwn(json, field.jsonName) ? json[field.jsonName]! : null;
    fields[field.jsonName] = isEmptyStruct(field, value) ? null : value;
  }
  return fields;
}

/** The spec an export writes: only fields that differ from their defaults, no id, nothing output-only. */
export function exportedSpec<Desc extends DescMessage>(shape: SpecShape<Desc>, message: MessageShape<Desc>): Record<string, JsonValue> {
  const json = toJson(shape.schema, message) as Record<string, JsonValue>;
  const spec: Record<string, JsonValue> = {};
  for (const field of specFields(shape)) {
    const value = json[field.jsonName];
    if (value === undefined || isEmptyStruct(field, value as PlanJson)) continue;
    if (isObject(value) && Object.keys(value).length === 0) continue;
    spec[field.jsonName] = value;
  }
  return spec;
}

/** The JSON name a field path uses in documents, and the proto name an update mask uses. */
export function protoNameOf(shape: SpecShape, jsonName: string): string {
  return shape.schema.fields.find((field) => field.jsonName === jsonName)?.name ?? jsonName;
}

/** An empty message, for filling fields a document leaves out with their defaults. */
export function emptyMessage<Desc extends DescMessage>(shape: SpecShape<Desc>): MessageShape<Desc> {
  return create(shape.schema);
}

function isEmptyStruct(field: DescField, value: PlanJson): boolean {
  return field.fieldKind === "message" && field.message.typeName === "google.protobuf.Struct" && isObject(value) && Object.keys(value).length === 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
