/**
 * The reconcile plan of `tessera apply` / `tessera diff`: what must change so the server holds
 * what the files say. Pure and transport-free — resources are plain JSON fields keyed by kind
 * and id — so every ordering and diffing rule is tested without a server.
 *
 * Order: creates and updates go kind by kind in dependency order (what others name first), then
 * prunes go in the reverse order, so a policy moves to a renamed issuer before the old issuer is
 * deleted, and nothing is deleted while something that stays still names it.
 */

export type PlanJson = string | number | boolean | null | PlanJson[] | { [key: string]: PlanJson };

/** A resource another one names, e.g. a federation policy's issuer. */
export interface ResourceRef {
  readonly kind: string;
  readonly id: string;
  /** The field that names it, for error messages. */
  readonly field: string;
}

/** Where a document came from, for messages: the file and the document's place in it (from 1). */
export interface DocumentSource {
  readonly file: string;
  readonly document: number;
}

export interface DesiredResource {
  readonly kind: string;
  readonly id: string;
  /** The fields to reconcile and their wanted values; fields not named here are left as they are. */
  readonly fields: Readonly<Record<string, PlanJson>>;
  readonly references: readonly ResourceRef[];
  readonly source: DocumentSource;
}

export interface LiveResource {
  readonly kind: string;
  readonly id: string;
  readonly fields: Readonly<Record<string, PlanJson>>;
  /** Read with the resource; sent back with every change so a concurrent edit is refused (AIP-154). */
  readonly etag: string;
  /** Carries the marker of resources the files manage: only these are pruned. */
  readonly managed: boolean;
  /** Never pruned whatever its marker says (the bootstrap admin, the client apply runs as). */
  readonly protected: boolean;
  /** A prune would change nothing (a client that is already inactive). */
  readonly pruned: boolean;
  readonly references: readonly ResourceRef[];
}

export interface FieldChange {
  readonly field: string;
  /** undefined: the field is not set on the server. */
  readonly before: PlanJson | undefined;
  readonly after: PlanJson;
}

export type PlannedAction =
  | { readonly type: "create"; readonly kind: string; readonly id: string; readonly fields: Readonly<Record<string, PlanJson>>; readonly source: DocumentSource }
  | { readonly type: "update"; readonly kind: string; readonly id: string; readonly etag: string; readonly changes: readonly FieldChange[]; readonly source: DocumentSource }
  | { readonly type: "prune"; readonly kind: string; readonly id: string; readonly etag: string; readonly how: PruneKind };

/** What pruning does to a kind: delete it, or take it out of service and keep it (reversible). */
export type PruneKind = "delete" | "deactivate";

export interface PlanOptions {
  /** Every kind, in dependency order: a kind only names kinds before it. */
  readonly kinds: readonly string[];
  readonly prune: boolean;
  readonly pruneKinds: Readonly<Record<string, PruneKind>>;
}

export interface Plan {
  readonly actions: readonly PlannedAction[];
  /** Problems that stop the plan; nothing may be written when there are any. */
  readonly problems: readonly string[];
}

export function planChanges(desired: readonly DesiredResource[], live: readonly LiveResource[], options: PlanOptions): Plan {
  const problems: string[] = [];
  const liveByKey = new Map(live.map((resource) => [keyOf(resource), resource]));
  const desiredByKey = new Map<string, DesiredResource>();
  for (const resource of desired) {
    const key = keyOf(resource);
    const earlier = desiredByKey.get(key);
    if (earlier) {
      problems.push(`${where(resource.source)}: ${resource.kind} ${resource.id} is also defined at ${where(earlier.source)}`);
      continue;
    }
    if (!options.kinds.includes(resource.kind)) problems.push(`${where(resource.source)}: kind ${resource.kind} is not one of ${options.kinds.join(", ")}`);
    desiredByKey.set(key, resource);
  }

  const upserts: PlannedAction[] = [];
  for (const kind of options.kinds) {
    for (const resource of [...desiredByKey.values()].filter((entry) => entry.kind === kind).sort(byId)) {
      const current = liveByKey.get(keyOf(resource));
      if (!current) {
        upserts.push({ type: "create", kind, id: resource.id, fields: resource.fields, source: resource.source });
        continue;
      }
      const changes = fieldChanges(current.fields, resource.fields);
      if (changes.length > 0) upserts.push({ type: "update", kind, id: resource.id, etag: current.etag, changes, source: resource.source });
    }
  }

  const prunes: PlannedAction[] = [];
  if (options.prune) {
    for (const kind of [...options.kinds].reverse()) {
      const how = options.pruneKinds[kind] ?? "delete";
      for (const resource of live.filter((entry) => entry.kind === kind).sort(byId)) {
        if (desiredByKey.has(keyOf(resource)) || !resource.managed || resource.protected) continue;
        if (how === "deactivate" && resource.pruned) continue;
        prunes.push({ type: "prune", kind, id: resource.id, etag: resource.etag, how });
      }
    }
  }

  // Every reference must find its target among what will exist after the plan.
  const deleted = new Set(prunes.filter((action) => action.type === "prune" && action.how === "delete").map(keyOf));
  const exists = (ref: ResourceRef) => {
    const key = keyOf(ref);
    return desiredByKey.has(key) || (liveByKey.has(key) && !deleted.has(key));
  };
  for (const resource of desiredByKey.values()) {
    for (const ref of resource.references) {
      if (ref.id === "") problems.push(`${where(resource.source)}: spec.${ref.field} is required`);
      else if (!exists(ref)) problems.push(`${where(resource.source)}: spec.${ref.field} names ${ref.kind} ${ref.id}, which neither the files nor the server define`);
    }
  }
  for (const resource of live) {
    const key = keyOf(resource);
    if (desiredByKey.has(key) || deleted.has(key)) continue;
    for (const ref of resource.references) {
      if (deleted.has(keyOf(ref))) {
        problems.push(`${ref.kind} ${ref.id} cannot be pruned: ${resource.kind} ${resource.id} (not managed by these files) still names it in ${ref.field}`);
      }
    }
  }
  return { actions: [...upserts, ...prunes], problems };
}

/** The fields whose wanted value differs from the server's, in the order the desired fields are listed. */
export function fieldChanges(current: Readonly<Record<string, PlanJson>>, wanted: Readonly<Record<string, PlanJson>>): FieldChange[] {
  return Object.entries(wanted)
    .filter(([field, value]) => !jsonEqual(Object.hasOwn(current, field) ? current[field] : undefined, value))
    .map(([field, after]) => ({ field, before: Object.hasOwn(current, field) ? current[field] : undefined, after }));
}

/** Structural equality; object key order does not matter, array order does. */
export function jsonEqual(a: PlanJson | undefined, b: PlanJson | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, index) => jsonEqual(item, b[index]));
  }
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && jsonEqual(a[key], b[key]));
}

export function summarize(actions: readonly PlannedAction[]): string {
  if (actions.length === 0) return "No changes: the server matches the files.";
  const count = (predicate: (action: PlannedAction) => boolean) => actions.filter(predicate).length;
  const parts = [
    [count((action) => action.type === "create"), "to create"],
    [count((action) => action.type === "update"), "to update"],
    [count((action) => action.type === "prune" && action.how === "delete"), "to delete"],
    [count((action) => action.type === "prune" && action.how === "deactivate"), "to deactivate"],
  ] as const;
  return `Plan: ${parts.map(([n, what]) => `${n} ${what}`).join(", ")}.`;
}

/** The plan for people, field by field. */
export function renderPlan(actions: readonly PlannedAction[]): string {
  const lines: string[] = [];
  for (const action of actions) {
    switch (action.type) {
      case "create":
        lines.push(`+ ${action.kind} ${action.id} (${where(action.source)})`);
        for (const [field, value] of Object.entries(action.fields)) lines.push(`    ${field}: ${show(value)}`);
        break;
      case "update":
        lines.push(`~ ${action.kind} ${action.id} (${where(action.source)})`);
        for (const change of action.changes) lines.push(`    ${change.field}: ${show(change.before)} → ${show(change.after)}`);
        break;
      case "prune":
        lines.push(`${action.how === "delete" ? "-" : "!"} ${action.kind} ${action.id} (${action.how === "delete" ? "deleted" : "deactivated"}: no document names it)`);
        break;
    }
  }
  return [...lines, summarize(actions)].join("\n");
}

function show(value: PlanJson | undefined): string {
  return value === undefined ? "(unset)" : JSON.stringify(value);
}

export function where(source: DocumentSource): string {
  return `${source.file} document ${source.document}`;
}

function keyOf(resource: { readonly kind: string; readonly id: string }): string {
  return `${resource.kind}\u0000${resource.id}`;
}

function byId(a: { readonly id: string }, b: { readonly id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
