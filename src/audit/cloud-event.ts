/**
 * An audit event as the outside world receives it: a CloudEvents 1.0 event in its JSON format
 * (CloudEvents spec §3, JSON format §3). The audit row's id is the event id, so every delivery
 * of one event (a retry, a redelivery, a replica taking over) carries the same id and receivers
 * deduplicate on (source, id) as the spec asks (§3.1.1 id).
 */
import type { AuditEntry } from "./audit-event.js";

/** An audit row read back from the trail: its entry, id and time. */
export interface RecordedAuditEvent extends AuditEntry {
  /** Increases in commit order; the event's stable id. */
  readonly id: bigint;
  readonly time: Date;
}

export interface CloudEvent {
  readonly specversion: "1.0";
  readonly id: string;
  /** Tessera's issuer URL: which deployment the event comes from. */
  readonly source: string;
  /** `dev.tessera.<resource>.<verb in the past tense>`, e.g. dev.tessera.client.created. */
  readonly type: string;
  /** The resource acted on (client id, issuer URL, policy id, key id); absent when there is none. */
  readonly subject?: string;
  readonly time: string;
  readonly datacontenttype: "application/json";
  readonly data: {
    readonly action: string;
    readonly actor: string;
    readonly outcome: string;
    readonly targetClientId?: string;
    readonly requestId?: string;
    readonly details: Readonly<Record<string, unknown>>;
  };
}

/** Verbs of the audit vocabulary in the past tense; an unknown last word is kept as it is. */
const PAST_TENSE: Readonly<Record<string, string>> = {
  create: "created",
  update: "updated",
  delete: "deleted",
  import: "imported",
  bootstrap: "bootstrapped",
  reactivate: "reactivated",
  deactivate: "deactivated",
  start: "started",
  finish: "finished",
  complete: "completed",
  cancel: "cancelled",
  rotate: "rotated",
  revoke: "revoked",
  redeliver: "redelivered",
  issue: "issued",
  exchange: "exchanged",
};

/** CloudEvents `type` names (§3.1.1 type: reverse-DNS prefixed): lowercase words, dots and underscores. */
export function cloudEventType(action: string): string {
  const words = action.toLowerCase().replace(/[^a-z0-9_.]/g, "_").split(".").filter((word) => word !== "");
  const last = words.pop() ?? "unknown";
  return ["dev", "tessera", ...words, PAST_TENSE[last] ?? last].join(".");
}

/** Where each resource kind's id sits in an entry; clients are the entry's target. */
const SUBJECT_DETAIL: readonly (readonly [prefix: string, detail: string])[] = [
  ["trusted_issuer.", "issuer"],
  ["federation_policy.", "federationPolicyId"],
  ["delegation_policy.", "delegationPolicyId"],
  ["key.", "kid"],
  ["event_sink.", "sink"],
];

export function cloudEventSubject(event: AuditEntry): string | undefined {
  for (const [prefix, detail] of SUBJECT_DETAIL) {
    if (!event.action.startsWith(prefix)) continue;
    const value = event.details?.[detail];
    if (typeof value === "string" && value !== "") return value;
  }
  return event.targetClientId || undefined;
}

export function toCloudEvent(event: RecordedAuditEvent, source: string): CloudEvent {
  const subject = cloudEventSubject(event);
  return {
    specversion: "1.0",
    id: event.id.toString(),
    source,
    type: cloudEventType(event.action),
    ...(subject !== undefined ? { subject } : {}),
    time: event.time.toISOString(),
    datacontenttype: "application/json",
    data: {
      action: event.action,
      actor: event.actor,
      outcome: event.outcome,
      ...(event.targetClientId ? { targetClientId: event.targetClientId } : {}),
      ...(event.requestId ? { requestId: event.requestId } : {}),
      details: event.details ?? {},
    },
  };
}
