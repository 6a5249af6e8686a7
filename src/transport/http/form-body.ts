/**
 * Strict parsing of token-endpoint bodies. RFC 6749 §3.2 forbids repeated parameters and the
 * form encoding must be well-formed UTF-8; URLSearchParams silently tolerates both, so we parse
 * ourselves and answer invalid_request instead of guessing.
 */
import { TesseraError } from "../../errors.js";

/** Parameters that may appear more than once (RFC 8707 §2: `resource`; its SaaS alias). */
const REPEATABLE = new Set(["resource", "audience"]);

export type BodyParameters = ReadonlyMap<string, readonly string[]>;

function decodeFormComponent(value: string): string {
  // Most names and values need no decoding; the body is already known to be printable ASCII,
  // so without `%` there can be no NUL either.
  if (value.indexOf("%") === -1 && value.indexOf("+") === -1) return value;
  let decoded: string;
  try {
    decoded = decodeURIComponent(value.replace(/\+/g, " "));
  } catch {
    throw new TesseraError("invalid_request", "malformed percent-encoding or invalid UTF-8 in the body");
  }
  if (decoded.includes("\u0000")) throw new TesseraError("invalid_request", "NUL byte in a parameter");
  return decoded;
}

export function parseFormBody(body: Buffer): BodyParameters {
  const text = body.toString("latin1");
  if (/[^\x20-\x7e]/.test(text)) throw new TesseraError("invalid_request", "form body must be ASCII (percent-encode other bytes)");
  const parameters = new Map<string, string[]>();
  if (text.length === 0) return parameters;
  for (const pair of text.split("&")) {
    if (pair.length === 0) continue;
    const equals = pair.indexOf("=");
    const name = decodeFormComponent(equals === -1 ? pair : pair.slice(0, equals));
    const value = decodeFormComponent(equals === -1 ? "" : pair.slice(equals + 1));
    addParameter(parameters, name, value);
  }
  return parameters;
}

/** JSON bodies, as SaaS M2M APIs accept: a flat object of strings (arrays only for repeatable names). */
export function parseJsonBody(body: Buffer): BodyParameters {
  let value: unknown;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(body);
    value = JSON.parse(text);
  } catch {
    throw new TesseraError("invalid_request", "body is not valid JSON");
  }
  // JSON.parse keeps the last of two equal names, where a form with a repeated parameter is
  // refused (RFC 6749 §3.2): refuse both, so no two readers of one request can disagree.
  const duplicate = firstDuplicateName(text);
  if (duplicate !== undefined) throw new TesseraError("invalid_request", `parameter ${JSON.stringify(duplicate.slice(0, 64))} must not be repeated`);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TesseraError("invalid_request", "JSON body must be an object");
  }
  const parameters = new Map<string, string[]>();
  for (const [name, raw] of Object.entries(value)) {
    const values = Array.isArray(raw) && REPEATABLE.has(name) ? raw : [raw];
    for (const item of values) {
      if (typeof item !== "string") throw new TesseraError("invalid_request", `parameter ${name} must be a string`);
      if (item.includes("\u0000")) throw new TesseraError("invalid_request", "NUL byte in a parameter");
      addParameter(parameters, name, item);
    }
  }
  return parameters;
}

/**
 * The first member name that appears twice in one object of a JSON text (RFC 8259 §4: names
 * "SHOULD be unique"), compared after unescaping, so "a" and "\u0061" are the same name.
 * The text is already known to be valid JSON; this only walks its strings and brackets.
 */
export function firstDuplicateName(text: string): string | undefined {
  // One entry per open object or array: the names an object has seen, or null for an array.
  const open: (Set<string> | null)[] = [];
  let expectingName = false;
  for (let index = 0; index < text.length; index++) {
    const character = text[index];
    if (character === "{") {
      open.push(new Set());
      expectingName = true;
    } else if (character === "[") {
      open.push(null);
    } else if (character === "}" || character === "]") {
      open.pop();
      expectingName = false;
    } else if (character === ",") {
      expectingName = open.at(-1) instanceof Set;
    } else if (character === '"') {
      let end = index + 1;
      while (text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      if (expectingName) {
        const name = JSON.parse(text.slice(index, end + 1)) as string;
        const names = open.at(-1)!;
        if (names.has(name)) return name;
        names.add(name);
        expectingName = false;
      }
      index = end;
    }
  }
  return undefined;
}

function addParameter(parameters: Map<string, string[]>, name: string, value: string): void {
  const existing = parameters.get(name);
  if (!existing) {
    parameters.set(name, [value]);
    return;
  }
  if (!REPEATABLE.has(name)) throw new TesseraError("invalid_request", `parameter ${name} must not be repeated`);
  existing.push(value);
}
