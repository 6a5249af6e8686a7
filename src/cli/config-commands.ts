/**
 * `tessera apply`, `tessera diff` and `tessera export`: Tessera's configuration kept as files
 * (`{kind, id, spec}` documents, spec in protobuf JSON names) and reconciled over the admin API.
 * The rules live in ./config/: reading documents, checking specs against the protobuf
 * descriptors, the plan, and writing it.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { stringify } from "yaml";
import { usageError, CliError } from "./cli-error.js";
import type { Command, CommandInput } from "./command.js";
import { readConfigDocuments } from "./config/config-documents.js";
import { RESOURCE_KINDS, type ConfigApis } from "./config/config-kinds.js";
import { renderPlan, type PlannedAction } from "./config/config-plan.js";
import { applyPlan, checkDocuments, checkUnchanged, describe, prepare, readLiveState, type PreparedPlan } from "./config/config-reconciler.js";
import { exportedSpec } from "./config/config-spec.js";
import type { OptionSpecs } from "./args.js";
import type { CommandOutput } from "./output.js";

const FILE_OPTION: OptionSpecs = {
  file: {
    type: "string",
    short: "f",
    multiple: true,
    placeholder: "PATH",
    help: "A YAML or JSON file of {kind, id, spec} documents, or a directory of them (searched recursively); - reads standard input.",
  },
};

const PRUNE_OPTION: OptionSpecs = {
  prune: {
    type: "boolean",
    help: `Also remove what the files no longer name, among resources marked as managed by apply (annotation tessera.dev/managed-by): policies and trusted issuers are deleted, clients deactivated (kept, with their secret). Never the bootstrap admin or the client apply runs as.`,
  },
};

const DOCUMENT_FORMAT = `Each document is {kind, id, spec}: kind is Client, TrustedIssuer, FederationPolicy or DelegationPolicy; id is the client id, the issuer URL or the policy id (1 to 63 of a-z 0-9 -); spec holds the resource's fields in protobuf JSON names (scopes, audiences, trustedMetadata, …), checked against schema/tessera-config.schema.json. A field left out means its default, except fields the server fills in (a client's status; a trusted issuer's allowedAlgorithms, maxTokenLifetime and clockTolerance), which keep what the server has. A Client may add secretFrom: {env: NAME} or {file: PATH} to import its secret when it is created.`;

async function apisOf(input: CommandInput): Promise<ConfigApis> {
  return { admin: await input.admin(), federation: await input.federation() };
}

function protectedClientIds(input: CommandInput): string[] {
  return [input.connection().clientId, input.env.TESSERA_ADMIN_CLIENT_ID].filter((id): id is string => id !== undefined && id !== "");
}

/** Reads and checks the documents before any connection, so a typo fails without a server. */
async function planFor(input: CommandInput, options: { forWriting: boolean; secretsOut: string | undefined }): Promise<{ apis: ConfigApis; plan: PreparedPlan }> {
  const paths = input.args.list("file");
  if (paths.length === 0) throw usageError("-f PATH is required");
  const read = await readConfigDocuments(paths, () => input.readStdin());
  const problems = [...read.problems];
  checkDocuments(read.documents, problems);
  if (problems.length > 0) {
    throw new CliError("invalid_argument", `the configuration has ${problems.length} problem(s); nothing was written:\n${problems.map((problem) => `  ${problem}`).join("\n")}`);
  }
  const apis = await apisOf(input);
  const ids = protectedClientIds(input);
  const live = await readLiveState(apis, { protectedClientIds: ids });
  const plan = prepare(read.documents, live, {
    prune: input.args.flag("prune"),
    protectedClientIds: ids,
    env: input.env,
    secretsOut: options.secretsOut,
    forWriting: options.forWriting,
  });
  return { apis, plan };
}

function planJson(actions: readonly PlannedAction[]): JsonValue {
  return actions.map((action) => JSON.parse(JSON.stringify(action)) as JsonValue);
}

const applyCommand: Command = {
  path: ["apply"],
  summary: "Make the server hold what configuration files describe (clients, trusted issuers, policies).",
  description: `${DOCUMENT_FORMAT} Every document is checked (unknown fields, types, references to issuers and clients in the files or on the server) before anything is written; changes go in dependency order, each with the etag read when planning, so a concurrent edit aborts the run (exit 4) instead of being overwritten. If the server refuses a change, apply stops there and says which changes were applied before it; run it again once fixed. A second apply of the same files changes nothing. A new client's generated secret is written once to --secrets-out (created with mode 0600, never overwritten), never printed.`,
  options: {
    ...FILE_OPTION,
    ...PRUNE_OPTION,
    "dry-run": { type: "boolean", help: "Print what would change, field by field, and write nothing (as tessera diff)." },
    "secrets-out": { type: "string", placeholder: "FILE", help: "A new file (mode 0600) to receive new clients' generated secrets, one JSON object per line." },
  },
  connects: true,
  async run(input) {
    const dryRun = input.args.flag("dry-run");
    const { apis, plan } = await planFor(input, { forWriting: !dryRun, secretsOut: input.args.string("secrets-out") });
    if (dryRun || plan.actions.length === 0) return { json: { changes: planJson(plan.actions), applied: [] }, text: renderPlan(plan.actions) };
    checkUnchanged(plan, await readLiveState(apis, { protectedClientIds: protectedClientIds(input) }));
    const applied: PlannedAction[] = [];
    await applyPlan(apis, plan, (action) => applied.push(action));
    const notes = plan.secretsOut !== undefined && plan.actions.some((action) => action.type === "create" && action.kind === "Client" && !plan.importedSecrets.has(action.id))
      ? [`new clients' secrets are in ${plan.secretsOut}`]
      : [];
    return {
      json: { changes: planJson(plan.actions), applied: applied.map(describe) },
      text: [...applied.map(describe), `Applied ${applied.length} change(s).`].join("\n"),
      notes,
    };
  },
};

const diffCommand: Command = {
  path: ["diff"],
  summary: "Show what apply would change, field by field; exit 0 when nothing would, 1 when something would.",
  description: `${DOCUMENT_FORMAT} Writes nothing. Meant for CI: a pull request that changes the files shows its effect, and a server that drifted from the files is noticed. Exit 1 means changes are pending; a problem with the files or the server exits with its own code (see below).`,
  options: { ...FILE_OPTION, ...PRUNE_OPTION },
  connects: true,
  async run(input): Promise<CommandOutput> {
    const { plan } = await planFor(input, { forWriting: false, secretsOut: undefined });
    return { json: { changes: planJson(plan.actions) }, text: renderPlan(plan.actions), exitCode: plan.actions.length > 0 ? 1 : 0 };
  },
};

const exportCommand: Command = {
  path: ["export"],
  summary: "Print the server's configuration as {kind, id, spec} YAML documents, ready for apply.",
  description: `Writes every trusted issuer, client and policy to standard output in the format apply reads, without output-only fields (etags, times) and without secrets (a client's secret never leaves the server; give its document secretFrom to import one elsewhere). The bootstrap admin and the client export runs as are left out: they come from the server's own settings. Applying the output to the same server changes nothing.`,
  options: {},
  connects: true,
  async run(input) {
    const apis = await apisOf(input);
    const skipped = new Set(protectedClientIds(input));
    const documents: { kind: string; id: string; spec: JsonValue }[] = [];
    for (const kind of RESOURCE_KINDS) {
      const items = await kind.list(apis);
      const sorted = items.map((message) => ({ id: kind.idOf(message), message })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      for (const { id, message } of sorted) {
        if (kind.kind === "Client" && skipped.has(id)) continue;
        documents.push({ kind: kind.kind, id, spec: exportedSpec(kind.shape, message) });
      }
    }
    const text = documents.map((document) => stringify(document, { lineWidth: 0 })).join("---\n");
    return { json: documents, text: text.replace(/\n$/, "") };
  },
};

export const CONFIG_COMMANDS: readonly Command[] = [applyCommand, diffCommand, exportCommand];

