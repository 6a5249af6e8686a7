/**
 * Reading the configuration files of `tessera apply|diff -f PATH`: a YAML file of one or more
 * documents, a JSON file (one document or an array of them), or a directory of such files
 * (`*.yaml`, `*.yml`, `*.json`, searched recursively in name order, hidden entries skipped).
 * Each document is the envelope `{kind, id, spec}` (a Client may add `secretFrom`); the spec is
 * checked later against the resource's protobuf message. Every problem names the file and the
 * document, and all of them are collected before anything is sent.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import type { DocumentSource } from "./config-plan.js";

/** Where an imported client secret comes from: never the YAML itself. */
export type SecretReference = { readonly env: string } | { readonly file: string };

export interface ConfigDocument {
  readonly kind: string;
  readonly id: string;
  readonly spec: Readonly<Record<string, unknown>>;
  /** Only for a Client: the secret to import when the client is created; a file path is resolved against the document's file. */
  readonly secretFrom: SecretReference | undefined;
  readonly source: DocumentSource;
}

/** Files are operator input, but a directory may hold anything: bound what is read. */
const LIMITS = { fileBytes: 4 * 1024 * 1024, files: 1_000, documents: 10_000 } as const;
const CONFIG_FILE = /\.(ya?ml|json)$/i;
const ENVELOPE_FIELDS = ["kind", "id", "spec", "secretFrom"];

export interface ReadResult {
  readonly documents: ConfigDocument[];
  readonly problems: string[];
}

/** `-` reads standard input (as YAML). */
export async function readConfigDocuments(paths: readonly string[], readStdin: () => Promise<string>): Promise<ReadResult> {
  const documents: ConfigDocument[] = [];
  const problems: string[] = [];
  const files: string[] = [];
  for (const given of paths) {
    if (given === "-") {
      files.push("-");
      continue;
    }
    try {
      files.push(...(statSync(given).isDirectory() ? configFilesIn(given) : [given]));
    } catch {
      problems.push(`${given}: cannot be read`);
    }
  }
  if (files.length > LIMITS.files) return { documents, problems: [...problems, `more than ${LIMITS.files} configuration files`] };
  for (const file of files) {
    let text: string;
    try {
      text = file === "-" ? await readStdin() : readText(file);
    } catch (error) {
      problems.push(`${file}: ${error instanceof Error ? error.message : "cannot be read"}`);
      continue;
    }
    const name = file === "-" ? "(stdin)" : file;
    for (const [index, parsed] of parseFile(name, text, problems).entries()) {
      if (documents.length >= LIMITS.documents) {
        problems.push(`more than ${LIMITS.documents} documents`);
        return { documents, problems };
      }
      const source = { file: name, document: index + 1 };
      const document = envelopeOf(parsed, source, problems);
      if (document) documents.push(document);
    }
  }
  return { documents, problems };
}

function configFilesIn(directory: string): string[] {
  const found: string[] = [];
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (entry.name.startsWith(".")) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(full);
      else if (entry.isFile() && CONFIG_FILE.test(entry.name)) found.push(full);
      if (found.length > LIMITS.files) return;
    }
  };
  visit(directory);
  return found;
}

function readText(file: string): string {
  if (statSync(file).size > LIMITS.fileBytes) throw new Error(`is larger than ${LIMITS.fileBytes} bytes`);
  return readFileSync(file, "utf8");
}

/** The documents of one file, in order; an empty YAML document (a trailing `---`) is skipped. */
function parseFile(file: string, text: string, problems: string[]): unknown[] {
  if (/\.json$/i.test(file)) {
    try {
      const value: unknown = JSON.parse(text);
      return Array.isArray(value) ? value : [value];
    } catch (error) {
      problems.push(`${file}: not JSON (${error instanceof Error ? error.message : String(error)})`);
      return [];
    }
  }
  const values: unknown[] = [];
  // YAML 1.2 core schema: `no` and `on` stay strings; duplicate keys and alias bombs are errors.
  for (const [index, document] of parseAllDocuments(text, { uniqueKeys: true, prettyErrors: false }).entries()) {
    const errors = document.errors;
    if (errors.length > 0) {
      problems.push(`${file} document ${index + 1}: not YAML (${errors[0]!.message.split("\n")[0]})`);
      values.push(undefined);
      continue;
    }
    try {
      values.push(document.toJS({ maxAliasCount: 100 }));
    } catch (error) {
      problems.push(`${file} document ${index + 1}: ${error instanceof Error ? error.message : String(error)}`);
      values.push(undefined);
    }
  }
  // An empty document keeps its place, so documents are numbered as their author counts them.
  return values.map((value) => (value === null ? EMPTY : value));
}

const EMPTY = Symbol("empty document");

function envelopeOf(value: unknown, source: DocumentSource, problems: string[]): ConfigDocument | undefined {
  const at = `${source.file} document ${source.document}`;
  if (value === undefined || value === EMPTY) return undefined;
  if (!isObject(value)) {
    problems.push(`${at}: must be a mapping with kind, id and spec`);
    return undefined;
  }
  let ok = true;
  for (const key of Object.keys(value)) {
    if (!ENVELOPE_FIELDS.includes(key)) {
      problems.push(`${at}: unknown field ${JSON.stringify(key)} (a document has kind, id, spec and, for a Client, secretFrom)`);
      ok = false;
    }
  }
  const { kind, id, spec, secretFrom } = value;
  if (typeof kind !== "string" || kind === "") {
    problems.push(`${at}: kind must be a string`);
    ok = false;
  }
  if (typeof id !== "string" || id === "") {
    problems.push(`${at}: id must be a non-empty string`);
    ok = false;
  }
  if (spec !== undefined && spec !== null && !isObject(spec)) {
    problems.push(`${at}: spec must be a mapping`);
    ok = false;
  }
  const secret = secretReferenceOf(secretFrom, kind, source, problems);
  if (!ok || secret === false) return undefined;
  return { kind: kind as string, id: id as string, spec: isObject(spec) ? spec : {}, secretFrom: secret, source };
}

function secretReferenceOf(value: unknown, kind: unknown, source: DocumentSource, problems: string[]): SecretReference | undefined | false {
  const at = `${source.file} document ${source.document}: secretFrom`;
  if (value === undefined || value === null) return undefined;
  if (kind !== "Client") {
    problems.push(`${at} is only for a Client`);
    return false;
  }
  if (!isObject(value) || Object.keys(value).length !== 1 || !("env" in value || "file" in value)) {
    problems.push(`${at} must be {env: NAME} or {file: PATH}`);
    return false;
  }
  if ("env" in value) {
    if (typeof value.env !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(value.env)) {
      problems.push(`${at}.env must name an environment variable`);
      return false;
    }
    return { env: value.env };
  }
  if (typeof value.file !== "string" || value.file === "") {
    problems.push(`${at}.file must be a path`);
    return false;
  }
  const base = source.file === "(stdin)" ? process.cwd() : path.dirname(source.file);
  return { file: path.resolve(base, value.file) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
