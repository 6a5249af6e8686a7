/**
 * Audit trail entries. A change's entry is written by the repository in the same transaction
 * as the change itself, so the trail can never claim a change that did not happen or miss one
 * that did. Entries never hold secrets.
 */

export type AuditOutcome = "success" | "denied";

export interface AuditEntry {
  /** client_id of the caller; "" when the caller could not be identified. */
  readonly actor: string;
  /**
   * Dotted verb, e.g. "client.create", "admin.denied"; for federation "trusted_issuer.*",
   * "federation_policy.*" and "delegation_policy.*" with create, update and delete; a token
   * issued on an external assertion "federation.token_issued", a client authenticated by one
   * "federation.client_authenticated" (details: way, issuer, subject, federationPolicyId); a
   * Tessera token exchanged by another client "delegation.token_exchanged" (details: subject,
   * subjectClientId, audiences, scopes, impersonated, depth, jti); an event sink resumed by an
   * operator "event_sink.redeliver" (details: sink, fromEventId).
   */
  readonly action: string;
  readonly targetClientId?: string | undefined;
  readonly outcome: AuditOutcome;
  readonly requestId?: string | undefined;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Who is acting, as the transports establish it. */
export interface Actor {
  readonly clientId: string;
  readonly requestId?: string | undefined;
}

export interface AuditLog {
  /** Records an entry that has no change to ride with (e.g. a refused admin call). */
  record(entry: AuditEntry): Promise<void>;
  /**
   * Records several entries in one write, in order; the queue of entries written off the
   * request path uses it so that a steady stream of them costs one statement per batch.
   */
  recordAll?(entries: readonly AuditEntry[]): Promise<void>;
}

/** Audit events are kept for a retention period, then purged. */
export interface AuditRetention {
  /** Deletes the events recorded before `time`; returns how many. */
  purgeAuditEvents(time: Date): Promise<number>;
}
