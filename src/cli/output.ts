/**
 * What a command prints: a readable text form for people and, with `--json`, a JSON form for
 * scripts. JSON is the RPC response in protobuf's canonical JSON mapping — the shape Connect's
 * JSON API answers with — with every field present, so `jq .client.description` never finds null.
 */
import { toJson, type DescMessage, type JsonValue, type MessageShape } from "@bufbuild/protobuf";
import type { OptionSpecs } from "./args.js";
import type { CliError } from "./cli-error.js";

export const JSON_OPTION: OptionSpecs = {
  json: { type: "boolean", help: 'Print JSON; a failure as {"error": {"code", "message"}} on stdout.' },
};

export interface CommandOutput {
  readonly json: JsonValue;
  /** Text for people, printed on stdout without `--json`. */
  readonly text: string;
  /** Hints for people (e.g. how to get the next page), printed on stderr without `--json`. */
  readonly notes?: readonly string[];
  /** The exit status when it is not 0 although nothing failed (`tessera diff` found changes). */
  readonly exitCode?: number;
}

export function messageJson<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): JsonValue {
  return toJson(schema, message, { alwaysEmitImplicit: true });
}

export function errorJson(error: CliError): JsonValue {
  return { error: { code: error.code, message: error.message } };
}

/** Columns padded to their widest cell, two spaces apart; the header row in capitals. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [headers.map((header) => header.toUpperCase()), ...rows];
  const widths = headers.map((_, column) => Math.max(...all.map((row) => (row[column] ?? "").length)));
  return all
    .map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join("  ").trimEnd())
    .join("\n");
}

/** One record as `label  value` lines. */
export function renderFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(...fields.map(([label]) => label.length));
  return fields.map(([label, value]) => `${label.padEnd(width)}  ${value}`.trimEnd()).join("\n");
}
