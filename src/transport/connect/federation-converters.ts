/**
 * Protobuf ↔ domain conversions for FederationService. Shape only: defaults and validation
 * belong to the domain (src/federation/federation-admin.ts).
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate, type Duration } from "@bufbuild/protobuf/wkt";
import type { JsonObject } from "../../clients/client.js";
import { invalidArgument } from "../../clients/client-validation.js";
import type { ClaimCondition as DomainCondition, ClaimConditionOperator as DomainOperator, DelegationPolicy as DomainDelegation, FederationPolicy as DomainFederation, TrustedIssuer as DomainIssuer } from "../../federation/federation.js";
import type {
  DelegationPolicyChanges,
  DelegationPolicyInput,
  FederationPolicyChanges,
  FederationPolicyInput,
  TrustedIssuerChanges,
  TrustedIssuerInput,
} from "../../federation/federation-admin.js";
import {
  ClaimConditionOperator,
  ClaimConditionSchema,
  DelegationPolicySchema,
  FederationPolicySchema,
  TrustedIssuerSchema,
  type ClaimCondition,
  type DelegationPolicy,
  type FederationPolicy,
  type TrustedIssuer,
} from "../../gen/tessera/v1/federation_pb.js";
import { revisionEtag } from "../../etag.js";

const OPERATOR_FROM_PROTO: ReadonlyMap<ClaimConditionOperator, DomainOperator> = new Map([
  [ClaimConditionOperator.EQUALS, "equals"],
  [ClaimConditionOperator.GLOB, "glob"],
  [ClaimConditionOperator.ONE_OF, "one_of"],
]);
const OPERATOR_TO_PROTO: Readonly<Record<DomainOperator, ClaimConditionOperator>> = {
  equals: ClaimConditionOperator.EQUALS,
  glob: ClaimConditionOperator.GLOB,
  one_of: ClaimConditionOperator.ONE_OF,
};

/** Whole seconds, zero allowed (a clock tolerance may be none); unset is null. */
function seconds(duration: Duration | undefined, field: string): number | null {
  if (!duration) return null;
  if (duration.nanos !== 0 || duration.seconds < 0n || duration.seconds > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw invalidArgument(field, "must be a whole, non-negative number of seconds");
  }
  return Number(duration.seconds);
}

function duration(value: number | null): Duration | undefined {
  return value === null ? undefined : { $typeName: "google.protobuf.Duration", seconds: BigInt(value), nanos: 0 };
}

function required<T>(message: T | undefined, field: string): T {
  if (!message) throw invalidArgument(field, "is required");
  return message;
}

function paths(mask: { paths: string[] } | undefined): readonly string[] {
  const list = mask?.paths ?? [];
  if (list.length === 0) throw invalidArgument("update_mask", "must name at least one field");
  return list;
}

/** Reads the masked fields with `readers`; unknown or read-only paths are refused by name. */
function changesOf<M, C>(message: M, mask: readonly string[], readers: Readonly<Record<string, (message: M) => C>>): C {
  let changes = {} as C;
  for (const path of mask) {
    // Own properties only: "constructor" or "toString" must not find Object's.
    const read = Object.hasOwn(readers, path) ? readers[path] : undefined;
    if (!read) throw invalidArgument("update_mask", `${path} is not a field that can be updated`);
    changes = { ...changes, ...read(message) };
  }
  return changes;
}

// Trusted issuers.

function spiffeOf(issuer: TrustedIssuer): TrustedIssuerInput["spiffe"] {
  if (!issuer.spiffe) return null;
  return {
    trustDomain: issuer.spiffe.trustDomain,
    bundleEndpoint: issuer.spiffe.bundleEndpoint,
    bundle: (issuer.spiffe.bundle as JsonObject | undefined) ?? null,
  };
}

const ISSUER_FIELDS: Readonly<Record<string, (issuer: TrustedIssuer) => TrustedIssuerChanges>> = {
  description: (issuer) => ({ description: issuer.description }),
  jwks_uri: (issuer) => ({ jwksUri: issuer.jwksUri }),
  jwks: (issuer) => ({ jwks: (issuer.jwks as JsonObject | undefined) ?? null }),
  spiffe: (issuer) => ({ spiffe: spiffeOf(issuer) }),
  audiences: (issuer) => ({ audiences: issuer.audiences }),
  allowed_algorithms: (issuer) => ({ allowedAlgorithms: issuer.allowedAlgorithms }),
  max_token_lifetime: (issuer) => ({ maxTokenLifetimeSeconds: seconds(issuer.maxTokenLifetime, "trusted_issuer.max_token_lifetime") }),
  max_token_age: (issuer) => ({ maxTokenAgeSeconds: seconds(issuer.maxTokenAge, "trusted_issuer.max_token_age") }),
  clock_tolerance: (issuer) => ({ clockToleranceSeconds: seconds(issuer.clockTolerance, "trusted_issuer.clock_tolerance") }),
  single_use: (issuer) => ({ singleUse: issuer.singleUse }),
  annotations: (issuer) => ({ annotations: issuer.annotations }),
};

export function trustedIssuerInput(message: TrustedIssuer | undefined): TrustedIssuerInput {
  const issuer = required(message, "trusted_issuer");
  return {
    issuer: issuer.issuer,
    description: issuer.description,
    jwksUri: issuer.jwksUri || undefined,
    jwks: (issuer.jwks as JsonObject | undefined) ?? null,
    spiffe: spiffeOf(issuer),
    audiences: issuer.audiences,
    allowedAlgorithms: issuer.allowedAlgorithms,
    maxTokenLifetimeSeconds: seconds(issuer.maxTokenLifetime, "max_token_lifetime"),
    maxTokenAgeSeconds: seconds(issuer.maxTokenAge, "max_token_age"),
    clockToleranceSeconds: seconds(issuer.clockTolerance, "clock_tolerance"),
    singleUse: issuer.singleUse,
    annotations: issuer.annotations,
  };
}

export function trustedIssuerChanges(message: TrustedIssuer | undefined, mask: { paths: string[] } | undefined) {
  const issuer = required(message, "trusted_issuer");
  return { issuer: issuer.issuer, etag: issuer.etag, changes: changesOf(issuer, paths(mask), ISSUER_FIELDS) };
}

export function trustedIssuerToProto(issuer: DomainIssuer): TrustedIssuer {
  const source = issuer.keySource;
  return create(TrustedIssuerSchema, {
    issuer: issuer.issuer,
    description: issuer.description,
    jwksUri: source.kind === "jwks_uri" ? source.jwksUri : "",
    jwks: source.kind === "jwks" ? source.jwks : undefined,
    spiffe:
      source.kind === "spiffe"
        ? { trustDomain: source.trustDomain, bundleEndpoint: source.bundleEndpoint ?? "", bundle: source.bundle ?? undefined }
        : undefined,
    audiences: [...issuer.audiences],
    allowedAlgorithms: [...issuer.allowedAlgorithms],
    maxTokenLifetime: duration(issuer.maxTokenLifetimeSeconds),
    maxTokenAge: duration(issuer.maxTokenAgeSeconds),
    clockTolerance: duration(issuer.clockToleranceSeconds),
    singleUse: issuer.singleUse,
    annotations: { ...issuer.annotations },
    createTime: timestampFromDate(issuer.createTime),
    updateTime: timestampFromDate(issuer.updateTime),
    etag: revisionEtag(issuer),
  });
}

// Federation policies.

function conditionsFromProto(conditions: readonly ClaimCondition[], field: string): DomainCondition[] {
  return conditions.map((condition, index) => {
    const operator = OPERATOR_FROM_PROTO.get(condition.operator);
    if (!operator) throw invalidArgument(`${field}[${index}].operator`, "must be EQUALS, GLOB or ONE_OF");
    return { claim: condition.claim, operator, values: [...condition.values] };
  });
}

const FEDERATION_FIELDS: Readonly<Record<string, (policy: FederationPolicy) => FederationPolicyChanges>> = {
  issuer: (policy) => ({ issuer: policy.issuer }),
  client_id: (policy) => ({ clientId: policy.clientId }),
  subject: (policy) => ({ subject: policy.subject }),
  claim_conditions: (policy) => ({ claimConditions: conditionsFromProto(policy.claimConditions, "federation_policy.claim_conditions") }),
  copied_claims: (policy) => ({ copiedClaims: policy.copiedClaims }),
  description: (policy) => ({ description: policy.description }),
  annotations: (policy) => ({ annotations: policy.annotations }),
};

export function federationPolicyInput(message: FederationPolicy | undefined): FederationPolicyInput {
  const policy = required(message, "federation_policy");
  return {
    issuer: policy.issuer,
    clientId: policy.clientId,
    subject: policy.subject,
    claimConditions: conditionsFromProto(policy.claimConditions, "claim_conditions"),
    copiedClaims: policy.copiedClaims,
    description: policy.description,
    annotations: policy.annotations,
  };
}

export function federationPolicyChanges(message: FederationPolicy | undefined, mask: { paths: string[] } | undefined) {
  const policy = required(message, "federation_policy");
  return { id: policy.federationPolicyId, etag: policy.etag, changes: changesOf(policy, paths(mask), FEDERATION_FIELDS) };
}

export function federationPolicyToProto(policy: DomainFederation): FederationPolicy {
  return create(FederationPolicySchema, {
    federationPolicyId: policy.id,
    issuer: policy.issuer,
    clientId: policy.clientId,
    subject: policy.subject,
    claimConditions: policy.claimConditions.map((condition) =>
      create(ClaimConditionSchema, { claim: condition.claim, operator: OPERATOR_TO_PROTO[condition.operator], values: [...condition.values] }),
    ),
    copiedClaims: [...policy.copiedClaims],
    description: policy.description,
    annotations: { ...policy.annotations },
    createTime: timestampFromDate(policy.createTime),
    updateTime: timestampFromDate(policy.updateTime),
    etag: revisionEtag(policy),
  });
}

// Delegation policies.

const DELEGATION_FIELDS: Readonly<Record<string, (policy: DelegationPolicy) => DelegationPolicyChanges>> = {
  client_id: (policy) => ({ clientId: policy.clientId }),
  subject_audiences: (policy) => ({ subjectAudiences: policy.subjectAudiences }),
  audiences: (policy) => ({ audiences: policy.audiences }),
  scopes: (policy) => ({ scopes: policy.scopes }),
  allow_impersonation: (policy) => ({ allowImpersonation: policy.allowImpersonation }),
  description: (policy) => ({ description: policy.description }),
  annotations: (policy) => ({ annotations: policy.annotations }),
};

export function delegationPolicyInput(message: DelegationPolicy | undefined): DelegationPolicyInput {
  const policy = required(message, "delegation_policy");
  return {
    clientId: policy.clientId,
    subjectAudiences: policy.subjectAudiences,
    audiences: policy.audiences,
    scopes: policy.scopes,
    allowImpersonation: policy.allowImpersonation,
    description: policy.description,
    annotations: policy.annotations,
  };
}

export function delegationPolicyChanges(message: DelegationPolicy | undefined, mask: { paths: string[] } | undefined) {
  const policy = required(message, "delegation_policy");
  return { id: policy.delegationPolicyId, etag: policy.etag, changes: changesOf(policy, paths(mask), DELEGATION_FIELDS) };
}

export function delegationPolicyToProto(policy: DomainDelegation): DelegationPolicy {
  return create(DelegationPolicySchema, {
    delegationPolicyId: policy.id,
    clientId: policy.clientId,
    subjectAudiences: [...policy.subjectAudiences],
    audiences: [...policy.audiences],
    scopes: [...policy.scopes],
    allowImpersonation: policy.allowImpersonation,
    description: policy.description,
    annotations: { ...policy.annotations },
    createTime: timestampFromDate(policy.createTime),
    updateTime: timestampFromDate(policy.updateTime),
    etag: revisionEtag(policy),
  });
}
