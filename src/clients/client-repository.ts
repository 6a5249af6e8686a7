/**
 * The storage the client registry and admin use cases need; implemented in src/store/.
 */
import type { AuditEntry } from "../audit/audit-event.js";
import type { Client, ClientRecord, ClientSecretHash, ClientStatus, TlsClientAuthNames } from "./client.js";

/** The fields an update may change; everything else is managed by Tessera. */
export type ClientChanges = Partial<
  Pick<
    Client,
    | "name"
    | "description"
    | "status"
    | "allowedScopes"
    | "defaultScopes"
    | "allowedAudiences"
    | "defaultAudiences"
    | "trustedMetadata"
    | "tokenLifetimeSeconds"
    | "signingAlg"
    | "claimsTemplate"
    | "jwks"
    | "jwksUri"
    | "expireTime"
    | "refreshTokensEnabled"
    | "dpopBoundAccessTokens"
    | "rateLimitPerSecond"
    | "annotations"
    | "tokenEndpointAuthMethod"
    | keyof TlsClientAuthNames
  >
>;

/** What an update writes: the caller's changes plus the token cut-off Tessera derives from them. */
export type ClientUpdate = ClientChanges & { readonly tokensNotBefore?: Date };

/** A change guarded by optimistic concurrency: aborted when `expectedRevision` is stale. */
export interface GuardedChange {
  readonly clientId: string;
  /** undefined: apply whatever the current revision is. */
  readonly expectedRevision: number | undefined;
  readonly audit: AuditEntry;
}

export interface ClientPageQuery {
  readonly pageSize: number;
  /** Keyset position: clients strictly after this (createTime, id). */
  readonly after: { readonly createTime: Date; readonly id: string } | undefined;
  readonly status: ClientStatus | undefined;
  readonly namePrefix: string | undefined;
}

export interface ClientKeysetQuery {
  /** Clients with ids strictly after this one; undefined: from the first. */
  readonly afterId: string | undefined;
  readonly limit: number;
}

/**
 * What tells two copies of a client apart without reading it: every change bumps `revision`
 * and sets `updateTime`, and a client deleted and created again under the same id starts at
 * revision 1 again, but with a later `updateTime`.
 */
export interface ClientVersion {
  readonly id: string;
  readonly revision: number;
  readonly updateTime: Date;
}

export interface AuditEventRecord extends AuditEntry {
  readonly id: bigint;
  readonly time: Date;
}

export type SecretRotationStep =
  | { readonly kind: "start"; readonly next: ClientSecretHash }
  | { readonly kind: "complete" }
  | { readonly kind: "cancel" };

export type NewClient = Omit<Client, "revision" | "createTime" | "updateTime" | "status"> & { readonly status?: Client["status"] };

export interface ClientRepository {
  /** Inserts the client, its secret and the audit entry in one transaction. already_exists if the id is taken. */
  createClient(input: { client: NewClient; secret: ClientSecretHash; audit: AuditEntry }): Promise<ClientRecord>;
  findClient(clientId: string): Promise<ClientRecord | undefined>;
  /** Those of these clients that exist, with their secrets, in no particular order. */
  findClients(clientIds: readonly string[]): Promise<ClientRecord[]>;
  /**
   * One keyset page of clients with their secrets in id order, for warming the in-memory
   * registry a page at a time: at most `limit` clients with ids after `afterId` (from the first
   * when undefined).
   */
  listClientsAfter(query: ClientKeysetQuery): Promise<ClientRecord[]>;
  /** The same pages as listClientsAfter, holding only each client's version: cheap to list in full. */
  listClientVersionsAfter(query: ClientKeysetQuery): Promise<ClientVersion[]>;
  /**
   * Creates the client if missing; otherwise makes sure it allows `client.allowedScopes` and
   * authenticates with `secret` (replacing the current secret hash if it changed).
   */
  ensureClient(input: { client: NewClient; secret: ClientSecretHash; audit: AuditEntry }): Promise<ClientRecord>;
  /** One page in (createTime, id) order, plus how many clients match in all. */
  listClients(query: ClientPageQuery): Promise<{ records: ClientRecord[]; totalSize: number }>;
  /**
   * Locks the client's row, hands the locked (current) record to `revise`, and writes what it
   * returns with the audit entry, atomically: two concurrent updates are merged and validated one
   * after the other, never both against the same stale copy. `revise` may throw to refuse the
   * change; not_found or aborted as for the other guarded changes.
   */
  updateClient(change: GuardedChange & { revise: (current: ClientRecord) => ClientUpdate }): Promise<ClientRecord>;
  /** Deletes the client and its secrets with the audit entry; not_found or aborted otherwise. */
  deleteClient(change: GuardedChange): Promise<void>;
  /**
   * One step of secret rotation: start adds the next secret (failed_precondition if one
   * exists), complete makes it current, cancel drops it (both failed_precondition without one).
   */
  rotateSecret(change: GuardedChange & { step: SecretRotationStep }): Promise<ClientRecord>;
  /** Newest first, strictly before `beforeId` when given. */
  listAuditEvents(query: { pageSize: number; beforeId: bigint | undefined; clientId: string | undefined }): Promise<AuditEventRecord[]>;
}
