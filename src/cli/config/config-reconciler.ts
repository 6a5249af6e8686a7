/**
 * `tessera apply` and `tessera diff` end to end: read and check every document, read what the
 * server holds, plan, and (for apply) write in order.
 *
 * What a failure leaves: every document is checked (fields, types, references, secrets, the
 * secrets file) before the first write, and right before writing the server is read again so a
 * change made since the plan (another apply, an operator) aborts with nothing written. During
 * the writes each one carries the etag read at plan time, so a concurrent edit is refused
 * (ABORTED) rather than overwritten; the server may still refuse a change on a rule only it
 * checks (say, default scopes outside the scopes). Then apply stops at that change and reports
 * exactly which changes were applied before it; each change is atomic on the server, and a
 * second apply carries on from there.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { CliError, toCliError } from "../cli-error.js";
import type { CliEnv } from "../connection.js";
import type { ConfigDocument } from "./config-documents.js";
import { MANAGED_BY_KEY, MANAGED_BY_VALUE, RESOURCE_KINDS, kindNamed, type ConfigApis, type ResourceKind } from "./config-kinds.js";
import { planChanges, where, type DesiredResource, type LiveResource, type PlanJson, type PlannedAction } from "./config-plan.js";
import { canonicalFields, checkSpec, protoNameOf, specMessage } from "./config-spec.js";

/** Imported secrets are checked for length by the server too; refusing short ones here keeps that refusal before any write. */
const MIN_IMPORTED_SECRET_LENGTH = 32;

export interface ReconcileOptions {
  readonly prune: boolean;
  /** Clients never pruned whatever they carry: the bootstrap admin, the client apply authenticates as. */
  readonly protectedClientIds: readonly string[];
  readonly env: CliEnv;
  /** Where generated secrets of new clients go (apply only); undefined: none may be generated. */
  readonly secretsOut: string | undefined;
  /** Whether writes will follow (apply) or only the plan is wanted (diff, --dry-run). */
  readonly forWriting: boolean;
}

export interface LiveState {
  readonly resources: LiveResource[];
  readonly messages: ReadonlyMap<string, unknown>;
}

export interface PreparedPlan {
  readonly actions: readonly PlannedAction[];
  /** The message each create and update writes, by kind and id. */
  readonly messages: ReadonlyMap<string, unknown>;
  /** Secrets to import, by client id (only for clients to create). */
  readonly importedSecrets: ReadonlyMap<string, string>;
  readonly secretsOut: string | undefined;
}

export interface AppliedChange {
  readonly action: PlannedAction;
}

function keyOf(kind: string, id: string): string {
  return `${kind}\u0000${id}`;
}

/** Everything the server holds of the kinds documents describe. */
export async function readLiveState(apis: ConfigApis, options: Pick<ReconcileOptions, "protectedClientIds">): Promise<LiveState> {
  const resources: LiveResource[] = [];
  const messages = new Map<string, unknown>();
  for (const kind of RESOURCE_KINDS) {
    for (const message of await kind.list(apis)) {
      const id = kind.idOf(message);
      const fields = canonicalFields(kind.shape, message);
      const annotations = (fields.annotations ?? {}) as Record<string, PlanJson>;
      resources.push({
        kind: kind.kind,
        id,
        fields,
        etag: kind.etagOf(message),
        managed: annotations[MANAGED_BY_KEY] === MANAGED_BY_VALUE,
        protected: kind.kind === "Client" && options.protectedClientIds.includes(id),
        pruned: kind.isPruned(message),
        references: kind.references(fields),
      });
      messages.set(keyOf(kind.kind, id), message);
    }
  }
  return { resources, messages };
}

/** Checks every document (without the server): kinds, spec fields and types. Problems are collected, not thrown. */
export function checkDocuments(documents: readonly ConfigDocument[], problems: string[]): ConfigDocument[] {
  const valid: ConfigDocument[] = [];
  for (const document of documents) {
    const at = where(document.source);
    const kind = kindNamed(document.kind);
    if (!kind) {
      problems.push(`${at}: kind ${JSON.stringify(document.kind)} is not one of ${RESOURCE_KINDS.map((entry) => entry.kind).join(", ")}`);
      continue;
    }
    if (checkSpec(kind.shape, document.spec, document.id, at, problems)) valid.push(document);
  }
  return valid;
}

/** The plan for checked documents against the live state; throws with every problem before anything is written. */
export function prepare(documents: readonly ConfigDocument[], live: LiveState, options: ReconcileOptions): PreparedPlan {
  const problems: string[] = [];
  const valid = checkDocuments(documents, problems);
  const liveByKey = new Map(live.resources.map((resource) => [keyOf(resource.kind, resource.id), resource]));
  const desired: DesiredResource[] = [];
  const messages = new Map<string, unknown>();
  for (const document of valid) {
    const kind = kindNamed(document.kind)!;
    const current = liveByKey.get(keyOf(document.kind, document.id));
    const fields = wantedFields(kind, document, current);
    desired.push({ kind: kind.kind, id: document.id, fields, references: kind.references(fields), source: document.source });
    messages.set(keyOf(kind.kind, document.id), specMessage(kind.shape, fieldsAsSpec(kind, fields, current), document.id));
  }
  const plan = planChanges(desired, live.resources, {
    kinds: RESOURCE_KINDS.map((kind) => kind.kind),
    prune: options.prune,
    pruneKinds: Object.fromEntries(RESOURCE_KINDS.map((kind) => [kind.kind, kind.prune])),
  });
  problems.push(...plan.problems);

  const importedSecrets = new Map<string, string>();
  const byKey = new Map(valid.map((document) => [keyOf(document.kind, document.id), document]));
  let generates = 0;
  for (const action of plan.actions) {
    if (action.type !== "create" || action.kind !== "Client") continue;
    const document = byKey.get(keyOf(action.kind, action.id))!;
    if (!document.secretFrom) {
      generates++;
      continue;
    }
    const secret = readSecret(document, options.env, problems);
    if (secret !== undefined) importedSecrets.set(action.id, secret);
  }
  if (generates > 0 && options.forWriting && options.secretsOut === undefined) {
    problems.push(`${generates} new client(s) get a generated secret: give --secrets-out FILE to receive them (or secretFrom in their documents)`);
  }
  if (generates > 0 && options.forWriting && options.secretsOut !== undefined && existsSync(options.secretsOut)) {
    problems.push(`--secrets-out ${options.secretsOut} already exists: secrets are written once, to a new file`);
  }
  if (problems.length > 0) {
    throw new CliError("invalid_argument", `the configuration has ${problems.length} problem(s); nothing was written:\n${problems.map((problem) => `  ${problem}`).join("\n")}`);
  }
  return { actions: plan.actions, messages, importedSecrets, secretsOut: options.secretsOut };
}

/**
 * The fields a document wants, canonical like the live ones: defaults for what it leaves out,
 * except fields the server fills in itself, and the managed marker — added on creation, kept as
 * the server has it when the document does not mention it.
 */
function wantedFields(kind: ResourceKind, document: ConfigDocument, current: LiveResource | undefined): Record<string, PlanJson> {
  const message = specMessage(kind.shape, document.spec, document.id);
  const fields = canonicalFields(kind.shape, message);
  const present = presentFields(kind, document.spec);
  kind.derive?.(fields, present);
  // Written as its empty value, such a field is unset to the server too, which fills it in.
  for (const name of kind.keptWhenAbsent) {
    if (!present.has(name) || isUnsetValue(fields[name])) delete fields[name];
  }
  const annotations = { ...((fields.annotations ?? {}) as Record<string, PlanJson>) };
  if (!Object.hasOwn(annotations, MANAGED_BY_KEY)) {
    const currentAnnotations = (current?.fields.annotations ?? {}) as Record<string, PlanJson>;
    if (!current) annotations[MANAGED_BY_KEY] = MANAGED_BY_VALUE;
    else if (Object.hasOwn(currentAnnotations, MANAGED_BY_KEY)) annotations[MANAGED_BY_KEY] = currentAnnotations[MANAGED_BY_KEY]!;
  }
  fields.annotations = annotations;
  return fields;
}

function isUnsetValue(value: PlanJson | undefined): boolean {
  return value === undefined || value === null || (Array.isArray(value) && value.length === 0) || (typeof value === "string" && value.endsWith("_UNSPECIFIED"));
}

function presentFields(kind: ResourceKind, spec: Readonly<Record<string, unknown>>): Set<string> {
  const present = new Set<string>();
  for (const key of Object.keys(spec)) {
    const field = kind.shape.schema.fields.find((entry) => entry.jsonName === key || entry.name === key);
    if (field) present.add(field.jsonName);
  }
  return present;
}

/** The wanted fields as a spec to build the message from; a field kept as the server has it takes the server's value. */
function fieldsAsSpec(kind: ResourceKind, fields: Readonly<Record<string, PlanJson>>, current: LiveResource | undefined): Record<string, unknown> {
  const spec: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) spec[name] = value;
  for (const name of kind.keptWhenAbsent) {
    if (!Object.hasOwn(spec, name) && current && Object.hasOwn(current.fields, name)) spec[name] = current.fields[name];
  }
  return spec;
}

function readSecret(document: ConfigDocument, env: CliEnv, problems: string[]): string | undefined {
  const at = `${where(document.source)}: secretFrom`;
  const reference = document.secretFrom!;
  let secret: string | undefined;
  if ("env" in reference) {
    secret = env[reference.env];
    if (secret === undefined || secret === "") {
      problems.push(`${at}.env: ${reference.env} is not set`);
      return undefined;
    }
  } else {
    try {
      // A trailing newline is how editors and `echo` end a file, never part of a secret.
      secret = readFileSync(reference.file, "utf8").replace(/\r?\n$/, "");
    } catch {
      problems.push(`${at}.file: cannot read ${reference.file}`);
      return undefined;
    }
  }
  if (secret.length < MIN_IMPORTED_SECRET_LENGTH) {
    problems.push(`${at}: the secret must be at least ${MIN_IMPORTED_SECRET_LENGTH} characters`);
    return undefined;
  }
  return secret;
}

/**
 * Refuses to start when the server changed since the plan: every resource to update or prune
 * still has the etag the plan read, and nothing to create has appeared. Nothing is written then.
 */
export function checkUnchanged(plan: PreparedPlan, live: LiveState): void {
  const byKey = new Map(live.resources.map((resource) => [keyOf(resource.kind, resource.id), resource]));
  const changed: string[] = [];
  for (const action of plan.actions) {
    const now = byKey.get(keyOf(action.kind, action.id));
    if (action.type === "create" && now) changed.push(`${action.kind} ${action.id} was created`);
    if (action.type !== "create" && (!now || now.etag !== action.etag)) changed.push(`${action.kind} ${action.id} ${now ? "was changed" : "was deleted"}`);
  }
  if (changed.length > 0) {
    throw new CliError("aborted", `the server changed since the plan was made (${changed.join("; ")}); nothing was written: run diff and apply again`);
  }
}

/** Writes the plan in order; on a refusal, throws with what was applied before it. */
export async function applyPlan(apis: ConfigApis, plan: PreparedPlan, onApplied: (action: PlannedAction) => void): Promise<void> {
  const done: PlannedAction[] = [];
  // Opened before the first write, so a file that appeared since the checks stops the run
  // before a client exists whose secret would have nowhere to go.
  const generates = plan.actions.some((action) => action.type === "create" && action.kind === "Client" && !plan.importedSecrets.has(action.id));
  const secrets = generates && plan.secretsOut !== undefined ? SecretsFile.create(plan.secretsOut) : undefined;
  try {
    for (const action of plan.actions) {
      try {
        await applyOne(apis, plan, action, secrets);
      } catch (error) {
        const failure = toCliError(error);
        const applied = done.length === 0 ? "nothing was applied before it" : `applied before it: ${done.map(describe).join("; ")}`;
        throw new CliError(
          failure.code,
          `${describe(action)} failed: ${failure.message}. ${applied}; ${plan.actions.length - done.length - 1} later change(s) were not tried. Run apply again once fixed`,
        );
      }
      done.push(action);
      onApplied(action);
    }
  } finally {
    secrets?.close();
  }
}

async function applyOne(apis: ConfigApis, plan: PreparedPlan, action: PlannedAction, secrets: SecretsFile | undefined): Promise<void> {
  const kind = kindNamed(action.kind)!;
  const message = plan.messages.get(keyOf(action.kind, action.id)) as MessageShape<DescMessage>;
  switch (action.type) {
    case "create": {
      const result = await kind.create(apis, { id: action.id, message, importedSecret: plan.importedSecrets.get(action.id) });
      if (result.generatedSecret !== undefined) {
        if (!secrets) throw new CliError("internal", "a secret was generated but there is no --secrets-out file");
        secrets.write(action.id, result.generatedSecret);
      }
      return;
    }
    case "update":
      return kind.update(apis, { id: action.id, etag: action.etag, message, paths: action.changes.map((change) => protoNameOf(kind.shape, change.field)) });
    case "prune":
      return kind.pruneOne(apis, { id: action.id, etag: action.etag });
  }
}

export function describe(action: PlannedAction): string {
  switch (action.type) {
    case "create":
      return `created ${action.kind} ${action.id}`;
    case "update":
      return `updated ${action.kind} ${action.id} (${action.changes.map((change) => change.field).join(", ")})`;
    case "prune":
      return `${action.how === "delete" ? "deleted" : "deactivated"} ${action.kind} ${action.id}`;
  }
}

/**
 * Generated secrets, written once: the file is created new (never overwritten, mode 0600), and
 * each secret is on disk before the next change is tried, so a failure later in the run loses
 * none. One JSON object per line: {"clientId", "clientSecret"}.
 */
class SecretsFile {
  private constructor(private readonly fd: number) {}

  static create(path: string): SecretsFile {
    try {
      return new SecretsFile(openSync(path, "wx", 0o600));
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === "EEXIST" ? "already exists" : "cannot be created";
      throw new CliError("failed_precondition", `--secrets-out ${path} ${reason}; nothing was written`);
    }
  }

  write(clientId: string, clientSecret: string): void {
    writeSync(this.fd, `${JSON.stringify({ clientId, clientSecret })}\n`);
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}
