/**
 * Reading configuration files and checking their specs against the protobuf descriptors, in
 * process: every problem names the file, the document and the field. And the committed JSON
 * Schema is exactly what the generator makes from the current protos.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readConfigDocuments } from "../../src/cli/config/config-documents.js";
import { RESOURCE_KINDS } from "../../src/cli/config/config-kinds.js";
import { checkDocuments } from "../../src/cli/config/config-reconciler.js";
import { CONFIG_SCHEMA_FILE, configSchema, configSchemaText } from "../../src/cli/config/config-schema.js";
import { specFields } from "../../src/cli/config/config-spec.js";

const dir = mkdtempSync(path.join(tmpdir(), "tessera-config-docs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const full = path.join(dir, name);
  mkdirSync(path.dirname(full), { recursive: true });
  writeFileSync(full, text);
  return full;
}

async function problemsOf(...paths: string[]): Promise<string[]> {
  const read = await readConfigDocuments(paths, async () => "");
  const problems = [...read.problems];
  checkDocuments(read.documents, problems);
  return problems;
}

describe("configuration documents", () => {
  it("reads multi-document YAML and JSON from a directory in name order, skipping empty documents and hidden files", async () => {
    const root = path.join(dir, "repo");
    file("repo/b.yaml", "kind: Client\nid: b\nspec: {name: B}\n---\n---\nkind: Client\nid: c\nspec: {name: C}\n");
    file("repo/a/x.json", JSON.stringify([{ kind: "TrustedIssuer", id: "https://i.example", spec: {} }]));
    file("repo/.hidden.yaml", "not: [valid");
    file("repo/notes.txt", "ignored");
    const read = await readConfigDocuments([root], async () => "");
    expect(read.problems).toEqual([]);
    expect(read.documents.map((document) => [document.kind, document.id, document.source.document])).toEqual([
      ["TrustedIssuer", "https://i.example", 1],
      ["Client", "b", 1],
      ["Client", "c", 3],
    ]);
  });

  it("names file, document and field for unknown fields, wrong types, output-only fields and bad envelopes", async () => {
    const bad = file(
      "bad.yaml",
      `kind: Client
id: a
spec:
  name: A
  scopes: read
  tokenLifetime: 1h
  signingAlgorithm: HS256
  etag: W/"1"
---
kind: FederationPolicy
id: p
spec:
  claimConditions: [{claim: ref, operator: CLAIM_CONDITION_OPERATOR_EQUALS, valeus: [x]}]
---
kind: Widget
id: w
---
kind: TrustedIssuer
id: https://i.example
secretFrom: {env: X}
extra: 1
`,
    );
    expect(await problemsOf(bad)).toEqual([
      `${bad} document 4: unknown field "extra" (a document has kind, id, spec and, for a Client, secretFrom)`,
      `${bad} document 4: secretFrom is only for a Client`,
      `${bad} document 1: spec.scopes must be a list`,
      `${bad} document 1: spec.tokenLifetime must be a duration in seconds such as "3600s"`,
      `${bad} document 1: spec.signingAlgorithm must be one of SIGNING_ALGORITHM_UNSPECIFIED, SIGNING_ALGORITHM_RS256, SIGNING_ALGORITHM_PS256, SIGNING_ALGORITHM_ES256, SIGNING_ALGORITHM_EDDSA`,
      `${bad} document 1: spec.etag is set by the server and cannot be written`,
      `${bad} document 2: spec.claimConditions[0].valeus is not a field of ClaimCondition`,
      `${bad} document 3: kind "Widget" is not one of TrustedIssuer, Client, FederationPolicy, DelegationPolicy`,
    ]);
  });

  it("refuses the id inside spec, duplicate YAML keys, and YAML that does not parse", async () => {
    const idInSpec = file("id.yaml", "kind: Client\nid: a\nspec: {name: A, clientId: b}\n");
    expect(await problemsOf(idInSpec)).toEqual([`${idInSpec} document 1: spec.clientId is the resource's id: write it as the document's id`]);
    const duplicate = file("dup.yaml", "kind: Client\nid: a\nid: b\n");
    expect((await problemsOf(duplicate))[0]).toMatch(new RegExp(`^${duplicate} document 1: not YAML`));
  });
});

describe("schema/tessera-config.schema.json", () => {
  it("is what scripts/generate-config-schema.ts makes from the current protos", () => {
    expect(readFileSync(CONFIG_SCHEMA_FILE, "utf8")).toBe(configSchemaText());
  });

  it("lists every spec field of every kind and no output-only one", () => {
    const defs = configSchema().$defs as Record<string, { properties: Record<string, unknown> }>;
    for (const kind of RESOURCE_KINDS) {
      const properties = Object.keys(defs[`${kind.shape.schema.typeName}.Spec`]!.properties);
      expect(properties).toEqual(specFields(kind.shape).map((field) => field.jsonName));
      expect(properties).not.toContain("etag");
    }
  });
});
