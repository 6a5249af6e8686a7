/**
 * Administration of trusted issuers, federation policies and delegation policies. Transports call
 * these with already-authorized actors; each change is validated here as a whole resource,
 * committed with its audit entry by the repository (updates merged and validated on the locked
 * row), and then applied to the in-memory directory the token path reads.
 */
import { randomBytes } from "node:crypto";
import type { Actor, AuditEntry } from "../audit/audit-event.js";
import type { Annotations, JsonObject } from "../clients/client.js";
import { checkAnnotations, checkAudiences, checkClientId, checkDescription, checkScopes, invalidArgument } from "../clients/client-validation.js";
import { decodePageToken, encodePageToken } from "../clients/page-token.js";
import { TesseraError } from "../errors.js";
import type { ClaimCondition, DelegationPolicy, FederationPolicy, IssuerKeySource, TrustedIssuer } from "./federation.js";
import type { FederationRegistry } from "./federation-registry.js";
import type {
  DelegationPolicyDefinition,
  FederationPolicyDefinition,
  FederationRepository,
  TrustedIssuerDefinition,
} from "./federation-repository.js";
import {
  FEDERATION_LIMITS,
  checkAllowedAlgorithms,
  checkClaimConditions,
  checkCopiedClaims,
  checkIssuer,
  checkIssuerAudiences,
  checkPublicJwks,
  checkSeconds,
  checkSubjectPattern,
  checkTrustDomain,
  checkUrl,
} from "./federation-validation.js";
import { parseEtag } from "../etag.js";

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 500;
const POLICY_ID_PATTERN = /^(fp|dp)_[A-Za-z0-9_-]{16}$/;
/** A caller-chosen policy id (AIP-122 resource id shape), so files can name the policies they manage. */
const CHOSEN_POLICY_ID_PATTERN = /^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A trusted issuer as an admin writes it: every field optional but the issuer, defaults filled in by validation. */
export interface TrustedIssuerInput {
  readonly issuer: string;
  readonly description?: string | undefined;
  /** At most one of jwksUri, jwks and spiffe; none means OIDC discovery. */
  readonly jwksUri?: string | undefined;
  readonly jwks?: JsonObject | null | undefined;
  readonly spiffe?: { readonly trustDomain: string; readonly bundleEndpoint: string; readonly bundle: JsonObject | null } | null | undefined;
  readonly audiences?: readonly string[] | undefined;
  readonly allowedAlgorithms?: readonly string[] | undefined;
  /** null or absent: the default. */
  readonly maxTokenLifetimeSeconds?: number | null | undefined;
  readonly maxTokenAgeSeconds?: number | null | undefined;
  readonly clockToleranceSeconds?: number | null | undefined;
  readonly singleUse?: boolean | undefined;
  readonly annotations?: Annotations | undefined;
}

export type TrustedIssuerChanges = Partial<Omit<TrustedIssuerInput, "issuer">>;

export interface FederationPolicyInput {
  readonly issuer: string;
  readonly clientId: string;
  readonly subject: string;
  readonly claimConditions?: readonly ClaimCondition[] | undefined;
  readonly copiedClaims?: readonly string[] | undefined;
  readonly description?: string | undefined;
  readonly annotations?: Annotations | undefined;
}

export type FederationPolicyChanges = Partial<FederationPolicyInput>;

/** A create names the policy's id when the caller chose one (AIP-133); Tessera chooses otherwise. */
export type PolicyCreation<T> = T & { readonly id?: string | undefined };

export interface DelegationPolicyInput {
  readonly clientId: string;
  readonly subjectAudiences?: readonly string[] | undefined;
  readonly audiences?: readonly string[] | undefined;
  readonly scopes?: readonly string[] | undefined;
  readonly allowImpersonation?: boolean | undefined;
  readonly description?: string | undefined;
  readonly annotations?: Annotations | undefined;
}

export type DelegationPolicyChanges = Partial<DelegationPolicyInput>;

export interface Page<T> {
  readonly items: T[];
  readonly nextPageToken: string;
}

export class FederationAdmin {
  constructor(private readonly options: { repository: FederationRepository; registry: FederationRegistry }) {}

  // Trusted issuers.

  async createTrustedIssuer(input: TrustedIssuerInput, actor: Actor): Promise<TrustedIssuer> {
    const definition = defineTrustedIssuer(input);
    const created = await this.options.repository.createTrustedIssuer({
      definition,
      audit: auditOf(actor, "trusted_issuer.create", undefined, { issuer: definition.issuer, keySource: definition.keySource.kind }),
    });
    return this.applied(created);
  }

  async getTrustedIssuer(issuer: string): Promise<TrustedIssuer> {
    checkIssuer(issuer);
    const found = await this.options.repository.findTrustedIssuer(issuer);
    if (!found) throw new TesseraError("not_found", `trusted issuer ${issuer} not found`);
    return found;
  }

  async listTrustedIssuers(query: { pageSize: number; pageToken: string }): Promise<Page<TrustedIssuer>> {
    return this.page(query, {}, isIssuerId, (q) => this.options.repository.listTrustedIssuers(q), (item) => item.issuer);
  }

  async updateTrustedIssuer(input: { issuer: string; etag: string; changes: TrustedIssuerChanges }, actor: Actor): Promise<TrustedIssuer> {
    checkIssuer(input.issuer);
    const updated = await this.options.repository.updateTrustedIssuer({
      id: input.issuer,
      expectedRevision: parseEtag(input.etag),
      revise: (current) => defineTrustedIssuer({ ...trustedIssuerInputOf(current), ...input.changes, issuer: current.issuer }),
      audit: auditOf(actor, "trusted_issuer.update", undefined, { issuer: input.issuer, fields: Object.keys(input.changes) }),
    });
    return this.applied(updated);
  }

  async deleteTrustedIssuer(input: { issuer: string; etag: string }, actor: Actor): Promise<void> {
    checkIssuer(input.issuer);
    await this.options.repository.deleteTrustedIssuer({
      id: input.issuer,
      expectedRevision: parseEtag(input.etag),
      audit: auditOf(actor, "trusted_issuer.delete", undefined, { issuer: input.issuer }),
    });
    await this.reload();
  }

  // Federation policies.

  async createFederationPolicy(input: PolicyCreation<FederationPolicyInput>, actor: Actor): Promise<FederationPolicy> {
    const definition = defineFederationPolicy({ ...input, id: chosenOrNewPolicyId(input.id, "federation_policy_id", "fp") });
    const created = await this.options.repository.createFederationPolicy({
      definition,
      audit: auditOf(actor, "federation_policy.create", definition.clientId, {
        federationPolicyId: definition.id,
        issuer: definition.issuer,
        subject: definition.subject,
      }),
    });
    return this.applied(created);
  }

  async getFederationPolicy(id: string): Promise<FederationPolicy> {
    checkPolicyId(id, "federation_policy_id", "fp");
    const found = await this.options.repository.findFederationPolicy(id);
    if (!found) throw new TesseraError("not_found", `federation policy ${id} not found`);
    return found;
  }

  async listFederationPolicies(query: { pageSize: number; pageToken: string; issuer: string; clientId: string }): Promise<Page<FederationPolicy>> {
    if (query.issuer) checkIssuer(query.issuer);
    if (query.clientId) checkClientId(query.clientId);
    const filter = { issuer: query.issuer || undefined, clientId: query.clientId || undefined };
    return this.page(query, filter, isPolicyId, (q) => this.options.repository.listFederationPolicies(q), (item) => item.id);
  }

  async updateFederationPolicy(input: { id: string; etag: string; changes: FederationPolicyChanges }, actor: Actor): Promise<FederationPolicy> {
    checkPolicyId(input.id, "federation_policy.federation_policy_id", "fp");
    const updated = await this.options.repository.updateFederationPolicy({
      id: input.id,
      expectedRevision: parseEtag(input.etag),
      revise: (current) => defineFederationPolicy({ ...current, ...input.changes, id: current.id }),
      audit: auditOf(actor, "federation_policy.update", input.changes.clientId, { federationPolicyId: input.id, fields: Object.keys(input.changes) }),
    });
    return this.applied(updated);
  }

  async deleteFederationPolicy(input: { id: string; etag: string }, actor: Actor): Promise<void> {
    checkPolicyId(input.id, "federation_policy_id", "fp");
    await this.options.repository.deleteFederationPolicy({
      id: input.id,
      expectedRevision: parseEtag(input.etag),
      audit: auditOf(actor, "federation_policy.delete", undefined, { federationPolicyId: input.id }),
    });
    await this.reload();
  }

  // Delegation policies.

  async createDelegationPolicy(input: PolicyCreation<DelegationPolicyInput>, actor: Actor): Promise<DelegationPolicy> {
    const definition = defineDelegationPolicy({ ...input, id: chosenOrNewPolicyId(input.id, "delegation_policy_id", "dp") });
    const created = await this.options.repository.createDelegationPolicy({
      definition,
      audit: auditOf(actor, "delegation_policy.create", definition.clientId, {
        delegationPolicyId: definition.id,
        audiences: definition.audiences,
        scopes: definition.scopes,
        allowImpersonation: definition.allowImpersonation,
      }),
    });
    return this.applied(created);
  }

  async getDelegationPolicy(id: string): Promise<DelegationPolicy> {
    checkPolicyId(id, "delegation_policy_id", "dp");
    const found = await this.options.repository.findDelegationPolicy(id);
    if (!found) throw new TesseraError("not_found", `delegation policy ${id} not found`);
    return found;
  }

  async listDelegationPolicies(query: { pageSize: number; pageToken: string; clientId: string }): Promise<Page<DelegationPolicy>> {
    if (query.clientId) checkClientId(query.clientId);
    const filter = { clientId: query.clientId || undefined };
    return this.page(query, filter, isPolicyId, (q) => this.options.repository.listDelegationPolicies(q), (item) => item.id);
  }

  async updateDelegationPolicy(input: { id: string; etag: string; changes: DelegationPolicyChanges }, actor: Actor): Promise<DelegationPolicy> {
    checkPolicyId(input.id, "delegation_policy.delegation_policy_id", "dp");
    const updated = await this.options.repository.updateDelegationPolicy({
      id: input.id,
      expectedRevision: parseEtag(input.etag),
      revise: (current) => defineDelegationPolicy({ ...current, ...input.changes, id: current.id }),
      audit: auditOf(actor, "delegation_policy.update", input.changes.clientId, { delegationPolicyId: input.id, fields: Object.keys(input.changes) }),
    });
    return this.applied(updated);
  }

  async deleteDelegationPolicy(input: { id: string; etag: string }, actor: Actor): Promise<void> {
    checkPolicyId(input.id, "delegation_policy_id", "dp");
    await this.options.repository.deleteDelegationPolicy({
      id: input.id,
      expectedRevision: parseEtag(input.etag),
      audit: auditOf(actor, "delegation_policy.delete", undefined, { delegationPolicyId: input.id }),
    });
    await this.reload();
  }

  /**
   * The change is committed: make this replica's directory see it before answering. A reload
   * that fails (the database went away just after the commit) must not report the committed
   * change as failed; the change's own announcement and the resync on reconnect reload it.
   */
  private async applied<T>(resource: T): Promise<T> {
    await this.reload();
    return resource;
  }

  private async reload(): Promise<void> {
    await this.options.registry.load().catch(() => undefined);
  }

  private async page<T extends { readonly createTime: Date }>(
    query: { pageSize: number; pageToken: string },
    filter: { issuer?: string | undefined; clientId?: string | undefined },
    isId: (id: string) => boolean,
    list: (query: { pageSize: number; after: { createTime: Date; id: string } | undefined; issuer?: string | undefined; clientId?: string | undefined }) => Promise<T[]>,
    idOf: (item: T) => string,
  ): Promise<Page<T>> {
    if (query.pageSize < 0) throw invalidArgument("page_size", "must not be negative");
    const pageSize = Math.min(query.pageSize || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
    const after = query.pageToken ? decodePageToken(query.pageToken, filter, isId) : undefined;
    // One extra row tells whether another page follows without a second query.
    const rows = await list({ pageSize: pageSize + 1, after, ...filter });
    const items = rows.slice(0, pageSize);
    const last = items.at(-1);
    const nextPageToken = rows.length > pageSize && last ? encodePageToken({ createTime: last.createTime, id: idOf(last) }, filter) : "";
    return { items, nextPageToken };
  }
}

/** Validates a whole trusted issuer and fills in defaults. */
export function defineTrustedIssuer(input: TrustedIssuerInput): TrustedIssuerDefinition {
  checkIssuer(input.issuer);
  const description = input.description ?? "";
  checkDescription(description);
  const keySource = keySourceOf(input);
  const audiences = [...(input.audiences ?? [])];
  checkIssuerAudiences(audiences);
  const allowedAlgorithms = checkAllowedAlgorithms(input.allowedAlgorithms ?? []);
  const maxTokenLifetimeSeconds = checkSeconds(input.maxTokenLifetimeSeconds ?? null, "max_token_lifetime", {
    min: 1,
    max: FEDERATION_LIMITS.maxTokenLifetimeSeconds,
    fallback: FEDERATION_LIMITS.defaultMaxTokenLifetimeSeconds,
  });
  const maxTokenAgeSeconds =
    input.maxTokenAgeSeconds === null || input.maxTokenAgeSeconds === undefined
      ? null
      : checkSeconds(input.maxTokenAgeSeconds, "max_token_age", { min: 1, max: FEDERATION_LIMITS.maxTokenLifetimeSeconds, fallback: 0 });
  const clockToleranceSeconds = checkSeconds(input.clockToleranceSeconds ?? null, "clock_tolerance", {
    min: 0,
    max: FEDERATION_LIMITS.maxClockToleranceSeconds,
    fallback: FEDERATION_LIMITS.defaultClockToleranceSeconds,
  });
  return {
    issuer: input.issuer,
    description,
    keySource,
    audiences,
    allowedAlgorithms,
    maxTokenLifetimeSeconds,
    maxTokenAgeSeconds,
    clockToleranceSeconds,
    singleUse: input.singleUse ?? false,
    annotations: checkedAnnotations(input.annotations),
  };
}

function keySourceOf(input: TrustedIssuerInput): IssuerKeySource {
  const given = [input.jwksUri ? "jwks_uri" : undefined, input.jwks ? "jwks" : undefined, input.spiffe ? "spiffe" : undefined].filter(
    (field) => field !== undefined,
  );
  if (given.length > 1) throw invalidArgument(given[1]!, `set at most one of jwks_uri, jwks and spiffe (got ${given.join(" and ")})`);
  if (input.jwksUri) {
    checkUrl(input.jwksUri, "jwks_uri", { maxLength: FEDERATION_LIMITS.uriLength, allowHttp: true });
    return { kind: "jwks_uri", jwksUri: input.jwksUri };
  }
  if (input.jwks) {
    checkPublicJwks(input.jwks, "jwks");
    return { kind: "jwks", jwks: input.jwks };
  }
  if (input.spiffe) {
    const { trustDomain, bundleEndpoint, bundle } = input.spiffe;
    checkTrustDomain(trustDomain);
    if (bundleEndpoint && bundle) throw invalidArgument("spiffe.bundle", "set either spiffe.bundle_endpoint or spiffe.bundle, not both");
    if (!bundleEndpoint && !bundle) throw invalidArgument("spiffe.bundle_endpoint", "a SPIFFE trust domain needs its bundle endpoint or its bundle");
    if (bundleEndpoint) checkUrl(bundleEndpoint, "spiffe.bundle_endpoint", { maxLength: FEDERATION_LIMITS.uriLength, allowHttp: true });
    if (bundle) checkPublicJwks(bundle, "spiffe.bundle");
    return { kind: "spiffe", trustDomain, bundleEndpoint: bundleEndpoint || null, bundle: bundle ?? null };
  }
  return { kind: "discovery" };
}

/** The stored issuer in the shape an admin writes, so an update can merge onto it. */
export function trustedIssuerInputOf(issuer: TrustedIssuer): TrustedIssuerInput {
  const source = issuer.keySource;
  return {
    issuer: issuer.issuer,
    description: issuer.description,
    jwksUri: source.kind === "jwks_uri" ? source.jwksUri : undefined,
    jwks: source.kind === "jwks" ? source.jwks : null,
    spiffe: source.kind === "spiffe" ? { trustDomain: source.trustDomain, bundleEndpoint: source.bundleEndpoint ?? "", bundle: source.bundle } : null,
    audiences: issuer.audiences,
    allowedAlgorithms: issuer.allowedAlgorithms,
    maxTokenLifetimeSeconds: issuer.maxTokenLifetimeSeconds,
    maxTokenAgeSeconds: issuer.maxTokenAgeSeconds,
    clockToleranceSeconds: issuer.clockToleranceSeconds,
    singleUse: issuer.singleUse,
    annotations: issuer.annotations,
  };
}

function defineFederationPolicy(input: FederationPolicyInput & { id: string }): FederationPolicyDefinition {
  checkIssuer(input.issuer, "issuer");
  checkClientId(input.clientId);
  checkSubjectPattern(input.subject);
  const claimConditions = (input.claimConditions ?? []).map((condition) => ({ ...condition, values: [...condition.values] }));
  checkClaimConditions(claimConditions);
  const copiedClaims = [...(input.copiedClaims ?? [])];
  checkCopiedClaims(copiedClaims);
  const description = input.description ?? "";
  checkDescription(description);
  const annotations = checkedAnnotations(input.annotations);
  return { id: input.id, issuer: input.issuer, clientId: input.clientId, subject: input.subject, claimConditions, copiedClaims, description, annotations };
}

function defineDelegationPolicy(input: DelegationPolicyInput & { id: string }): DelegationPolicyDefinition {
  checkClientId(input.clientId);
  const subjectAudiences = [...(input.subjectAudiences ?? [])];
  checkAudiences(subjectAudiences, "subject_audiences");
  const audiences = [...(input.audiences ?? [])];
  checkAudiences(audiences, "audiences");
  const scopes = [...(input.scopes ?? [])];
  checkScopes(scopes, "scopes");
  const description = input.description ?? "";
  checkDescription(description);
  return {
    id: input.id,
    clientId: input.clientId,
    subjectAudiences,
    audiences,
    scopes,
    allowImpersonation: input.allowImpersonation ?? false,
    description,
    annotations: checkedAnnotations(input.annotations),
  };
}

function newPolicyId(prefix: "fp" | "dp"): string {
  // 96 random bits: ids are unguessable and leak nothing about order or count.
  return `${prefix}_${randomBytes(12).toString("base64url")}`;
}

function chosenOrNewPolicyId(chosen: string | undefined, field: string, prefix: "fp" | "dp"): string {
  if (!chosen) return newPolicyId(prefix);
  if (!CHOSEN_POLICY_ID_PATTERN.test(chosen)) {
    throw invalidArgument(field, "must be 1 to 63 characters of a-z 0-9 -, starting with a letter and not ending with -");
  }
  return chosen;
}

function checkedAnnotations(annotations: Annotations | undefined): Annotations {
  const copy = { ...(annotations ?? {}) };
  checkAnnotations(copy);
  return copy;
}

/** Generated ids hold `_`, chosen ones never do, so the two can never collide. */
function isPolicyId(id: string): boolean {
  return POLICY_ID_PATTERN.test(id) || CHOSEN_POLICY_ID_PATTERN.test(id);
}

function isIssuerId(id: string): boolean {
  try {
    checkIssuer(id);
    return true;
  } catch {
    return false;
  }
}

function checkPolicyId(id: string, field: string, prefix: "fp" | "dp"): void {
  if (CHOSEN_POLICY_ID_PATTERN.test(id)) return;
  if (!POLICY_ID_PATTERN.test(id) || !id.startsWith(`${prefix}_`)) throw invalidArgument(field, "is not a policy id this server issued or accepted");
}

function auditOf(actor: Actor, action: string, clientId: string | undefined, details: Record<string, unknown>): AuditEntry {
  return { actor: actor.clientId, action, targetClientId: clientId, outcome: "success", requestId: actor.requestId, details };
}


