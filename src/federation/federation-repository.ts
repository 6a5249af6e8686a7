/**
 * The storage federation administration and the in-memory directory need; implemented in
 * src/store/federation-store.ts. Every change is written with its audit entry and announced to
 * the other replicas in one transaction.
 */
import type { AuditEntry } from "../audit/audit-event.js";
import type { PagePosition } from "../clients/page-token.js";
import type { DelegationPolicy, FederationPolicy, TrustedIssuer } from "./federation.js";

type Managed = "revision" | "createTime" | "updateTime";
export type TrustedIssuerDefinition = Omit<TrustedIssuer, Managed>;
export type FederationPolicyDefinition = Omit<FederationPolicy, Managed>;
export type DelegationPolicyDefinition = Omit<DelegationPolicy, Managed>;

/** A change guarded by optimistic concurrency (AIP-154): aborted when `expectedRevision` is stale. */
export interface GuardedResourceChange {
  readonly id: string;
  /** undefined: apply whatever the current revision is. */
  readonly expectedRevision: number | undefined;
  readonly audit: AuditEntry;
}

/**
 * An update: the store locks the row, hands the current resource to `revise`, and writes the
 * definition it returns (which it may refuse by throwing), all in one transaction.
 */
export interface ResourceRevision<T, D> extends GuardedResourceChange {
  revise(current: T): D;
}

export interface FederationPageQuery {
  readonly pageSize: number;
  /** Keyset position: entries strictly after this (createTime, id). */
  readonly after: PagePosition | undefined;
  readonly issuer?: string | undefined;
  readonly clientId?: string | undefined;
}

/** Everything the directory holds; these tables are operator-managed and small. */
export interface FederationSnapshot {
  readonly trustedIssuers: readonly TrustedIssuer[];
  readonly federationPolicies: readonly FederationPolicy[];
  readonly delegationPolicies: readonly DelegationPolicy[];
}

export interface FederationRepository {
  /** already_exists when the issuer is registered. */
  createTrustedIssuer(input: { definition: TrustedIssuerDefinition; audit: AuditEntry }): Promise<TrustedIssuer>;
  findTrustedIssuer(issuer: string): Promise<TrustedIssuer | undefined>;
  listTrustedIssuers(query: FederationPageQuery): Promise<TrustedIssuer[]>;
  updateTrustedIssuer(change: ResourceRevision<TrustedIssuer, TrustedIssuerDefinition>): Promise<TrustedIssuer>;
  /** failed_precondition while federation policies name the issuer. */
  deleteTrustedIssuer(change: GuardedResourceChange): Promise<void>;

  /** failed_precondition when the issuer is not trusted, not_found when the client does not exist. */
  createFederationPolicy(input: { definition: FederationPolicyDefinition; audit: AuditEntry }): Promise<FederationPolicy>;
  findFederationPolicy(id: string): Promise<FederationPolicy | undefined>;
  listFederationPolicies(query: FederationPageQuery): Promise<FederationPolicy[]>;
  /** The same references are checked as on create. */
  updateFederationPolicy(change: ResourceRevision<FederationPolicy, FederationPolicyDefinition>): Promise<FederationPolicy>;
  deleteFederationPolicy(change: GuardedResourceChange): Promise<void>;

  /** not_found when the client does not exist. */
  createDelegationPolicy(input: { definition: DelegationPolicyDefinition; audit: AuditEntry }): Promise<DelegationPolicy>;
  findDelegationPolicy(id: string): Promise<DelegationPolicy | undefined>;
  listDelegationPolicies(query: FederationPageQuery): Promise<DelegationPolicy[]>;
  updateDelegationPolicy(change: ResourceRevision<DelegationPolicy, DelegationPolicyDefinition>): Promise<DelegationPolicy>;
  deleteDelegationPolicy(change: GuardedResourceChange): Promise<void>;

  /** Every issuer and policy, read in one snapshot, for the in-memory directory. */
  loadAll(): Promise<FederationSnapshot>;
}
