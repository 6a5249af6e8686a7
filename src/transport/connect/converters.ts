/**
 * Protobuf ↔ domain conversions for the Connect services. Pure functions, no logic beyond
 * shape: defaults and validation belong to the domain.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { ClientRecord, ClientStatus as DomainStatus, JsonObject, TokenEndpointAuthMethod } from "../../clients/client.js";
import type { AuditEventRecord, ClientChanges } from "../../clients/client-repository.js";
import { AuditEventSchema, type AuditEvent } from "../../gen/tessera/v1/audit_event_pb.js";
import { clientEtag } from "../../clients/client.js";
import type { CreateClientInput } from "../../clients/client-admin.js";
import { invalidArgument } from "../../clients/client-validation.js";
import type { SigningAlgorithm as DomainAlgorithm } from "../../keys/algorithms.js";
import type { LoadedSigningKey } from "../../keys/key-ring.js";
import type { SigningKeyState as DomainKeyState, StoredSigningKey } from "../../keys/signing-key.js";
import { ClientSchema, ClientStatus, SigningAlgorithm, type Client } from "../../gen/tessera/v1/client_pb.js";
import type { CreateClientRequest } from "../../gen/tessera/v1/client_admin_service_pb.js";
import { SigningKeySchema, SigningKeyState, type SigningKey } from "../../gen/tessera/v1/signing_key_pb.js";

const ALGORITHM_TO_PROTO: Readonly<Record<DomainAlgorithm, SigningAlgorithm>> = {
  RS256: SigningAlgorithm.RS256,
  PS256: SigningAlgorithm.PS256,
  ES256: SigningAlgorithm.ES256,
  EdDSA: SigningAlgorithm.EDDSA,
};

export function algorithmFromProto(value: SigningAlgorithm, field: string): DomainAlgorithm | null {
  if (value === SigningAlgorithm.UNSPECIFIED) return null;
  const found = (Object.entries(ALGORITHM_TO_PROTO) as [DomainAlgorithm, SigningAlgorithm][]).find(([, proto]) => proto === value);
  if (!found) throw invalidArgument(field, `unknown signing algorithm ${value}`);
  return found[0];
}

export function algorithmToProto(value: DomainAlgorithm | null): SigningAlgorithm {
  return value === null ? SigningAlgorithm.UNSPECIFIED : ALGORITHM_TO_PROTO[value];
}

function durationSeconds(duration: Duration | undefined, field: string): number | null {
  if (!duration) return null;
  if (duration.nanos !== 0 || duration.seconds <= 0n || duration.seconds > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw invalidArgument(field, "must be a positive whole number of seconds");
  }
  return Number(duration.seconds);
}

/** google.protobuf.Timestamp's documented range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z. */
const TIMESTAMP_MIN_SECONDS = -62_135_596_800n;
const TIMESTAMP_MAX_SECONDS = 253_402_300_799n;

function dateOrNull(timestamp: Timestamp | undefined, field: string): Date | null {
  if (!timestamp) return null;
  // Out-of-range values would be stored and then fail on the way back out; refuse them here.
  if (timestamp.seconds < TIMESTAMP_MIN_SECONDS || timestamp.seconds > TIMESTAMP_MAX_SECONDS) {
    throw invalidArgument(field, "must lie between 0001-01-01 and 9999-12-31");
  }
  if (!Number.isInteger(timestamp.nanos) || timestamp.nanos < 0 || timestamp.nanos > 999_999_999) {
    throw invalidArgument(field, "nanos must lie between 0 and 999,999,999");
  }
  // Truncated to the millisecond we store; timestampDate rounds, which would carry
  // 9999-12-31T23:59:59.9995Z into the year 10000.
  return new Date(Number(timestamp.seconds) * 1000 + Math.floor(timestamp.nanos / 1_000_000));
}

/** The client-definition fields CreateClientRequest and Client share, name for name. */
type ClientDefinitionFields = Pick<
  CreateClientRequest,
  | "clientId"
  | "name"
  | "description"
  | "scopes"
  | "audiences"
  | "defaultScopes"
  | "defaultAudiences"
  | "trustedMetadata"
  | "tokenLifetime"
  | "signingAlgorithm"
  | "claimsTemplate"
  | "jwks"
  | "jwksUri"
  | "expireTime"
  | "refreshTokensEnabled"
  | "rateLimitPerSecond"
  | "annotations"
  | "dpopBoundAccessTokens"
  | "tokenEndpointAuthMethod"
  | "tlsClientAuthSubjectDn"
  | "tlsClientAuthSanDns"
  | "tlsClientAuthSanUri"
  | "tlsClientAuthSanIp"
  | "tlsClientAuthSanEmail"
>;

/** `fieldPrefix` names where the fields sit in the request, for error messages ("client."). */
function clientDefinition(fields: ClientDefinitionFields, fieldPrefix: string): CreateClientInput {
  return {
    clientId: fields.clientId || undefined,
    name: fields.name,
    description: fields.description,
    allowedScopes: fields.scopes,
    defaultScopes: fields.defaultScopes,
    allowedAudiences: fields.audiences,
    defaultAudiences: fields.defaultAudiences,
    trustedMetadata: fields.trustedMetadata as JsonObject | undefined,
    tokenLifetimeSeconds: durationSeconds(fields.tokenLifetime, `${fieldPrefix}token_lifetime`),
    signingAlg: algorithmFromProto(fields.signingAlgorithm, `${fieldPrefix}signing_algorithm`),
    claimsTemplate: fields.claimsTemplate as JsonObject | undefined,
    jwks: (fields.jwks as JsonObject | undefined) ?? null,
    jwksUri: fields.jwksUri || null,
    expireTime: dateOrNull(fields.expireTime, `${fieldPrefix}expire_time`),
    refreshTokensEnabled: fields.refreshTokensEnabled,
    rateLimitPerSecond: fields.rateLimitPerSecond || null,
    annotations: fields.annotations,
    dpopBoundAccessTokens: fields.dpopBoundAccessTokens,
    tokenEndpointAuthMethod: fields.tokenEndpointAuthMethod || null,
    tlsClientAuthSubjectDn: fields.tlsClientAuthSubjectDn || null,
    tlsClientAuthSanDns: fields.tlsClientAuthSanDns || null,
    tlsClientAuthSanUri: fields.tlsClientAuthSanUri || null,
    tlsClientAuthSanIp: fields.tlsClientAuthSanIp || null,
    tlsClientAuthSanEmail: fields.tlsClientAuthSanEmail || null,
  };
}

export function createClientInput(request: CreateClientRequest): CreateClientInput {
  return clientDefinition(request, "");
}

/** UpdateClient's field mask paths (AIP-134) and how each reads its value from the message. */
const UPDATABLE_FIELDS: Readonly<Record<string, (client: Client) => ClientChanges>> = {
  name: (client) => ({ name: client.name }),
  description: (client) => ({ description: client.description }),
  scopes: (client) => ({ allowedScopes: client.scopes }),
  audiences: (client) => ({ allowedAudiences: client.audiences }),
  default_scopes: (client) => ({ defaultScopes: client.defaultScopes }),
  default_audiences: (client) => ({ defaultAudiences: client.defaultAudiences }),
  trusted_metadata: (client) => ({ trustedMetadata: (client.trustedMetadata ?? {}) as JsonObject }),
  token_lifetime: (client) => ({ tokenLifetimeSeconds: durationSeconds(client.tokenLifetime, "client.token_lifetime") }),
  signing_algorithm: (client) => ({ signingAlg: algorithmFromProto(client.signingAlgorithm, "client.signing_algorithm") }),
  claims_template: (client) => ({ claimsTemplate: (client.claimsTemplate ?? {}) as JsonObject }),
  jwks: (client) => ({ jwks: (client.jwks as JsonObject | undefined) ?? null }),
  jwks_uri: (client) => ({ jwksUri: client.jwksUri || null }),
  expire_time: (client) => ({ expireTime: dateOrNull(client.expireTime, "client.expire_time") }),
  refresh_tokens_enabled: (client) => ({ refreshTokensEnabled: client.refreshTokensEnabled }),
  rate_limit_per_second: (client) => ({ rateLimitPerSecond: client.rateLimitPerSecond || null }),
  annotations: (client) => ({ annotations: client.annotations }),
  dpop_bound_access_tokens: (client) => ({ dpopBoundAccessTokens: client.dpopBoundAccessTokens }),
  // Checked by name in the use case (client-validation.ts checkTokenEndpointAuth).
  token_endpoint_auth_method: (client) => ({ tokenEndpointAuthMethod: (client.tokenEndpointAuthMethod || null) as TokenEndpointAuthMethod | null }),
  tls_client_auth_subject_dn: (client) => ({ tlsClientAuthSubjectDn: client.tlsClientAuthSubjectDn || null }),
  tls_client_auth_san_dns: (client) => ({ tlsClientAuthSanDns: client.tlsClientAuthSanDns || null }),
  tls_client_auth_san_uri: (client) => ({ tlsClientAuthSanUri: client.tlsClientAuthSanUri || null }),
  tls_client_auth_san_ip: (client) => ({ tlsClientAuthSanIp: client.tlsClientAuthSanIp || null }),
  tls_client_auth_san_email: (client) => ({ tlsClientAuthSanEmail: client.tlsClientAuthSanEmail || null }),
};

export function clientChanges(client: Client | undefined, paths: readonly string[]): ClientChanges {
  if (!client) throw invalidArgument("client", "is required");
  if (paths.length === 0) throw invalidArgument("update_mask", "must name at least one field");
  let changes: ClientChanges = {};
  for (const path of paths) {
    // Own properties only: "constructor" or "toString" must not find Object's.
    const read = Object.hasOwn(UPDATABLE_FIELDS, path) ? UPDATABLE_FIELDS[path] : undefined;
    if (!read) throw invalidArgument("update_mask", `${path} is not a field that can be updated`);
    changes = { ...changes, ...read(client) };
  }
  return changes;
}

export function statusFromProto(status: ClientStatus): DomainStatus | undefined {
  if (status === ClientStatus.UNSPECIFIED) return undefined;
  if (status === ClientStatus.ACTIVE) return "active";
  if (status === ClientStatus.INACTIVE) return "inactive";
  throw invalidArgument("status", `unknown status ${status}`);
}

/** ImportClient carries a Client message; output-only fields in it are ignored (AIP-203). */
export function importClientInput(client: Client | undefined): CreateClientInput {
  if (!client) throw invalidArgument("client", "is required");
  return clientDefinition(client, "client.");
}

export function auditEventToProto(event: AuditEventRecord): AuditEvent {
  return create(AuditEventSchema, {
    eventId: String(event.id),
    time: timestampFromDate(event.time),
    actor: event.actor,
    action: event.action,
    clientId: event.targetClientId ?? "",
    outcome: event.outcome,
    requestId: event.requestId ?? "",
    details: (event.details ?? {}) as JsonObject,
  });
}

export function clientToProto(record: ClientRecord): Client {
  const { client } = record;
  return create(ClientSchema, {
    clientId: client.id,
    name: client.name,
    description: client.description,
    scopes: [...client.allowedScopes],
    audiences: [...client.allowedAudiences],
    status: client.status === "active" ? ClientStatus.ACTIVE : ClientStatus.INACTIVE,
    clientSecretLastFour: record.secrets.find((secret) => secret.slot === "current")?.lastFour ?? "",
    nextClientSecretLastFour: record.secrets.find((secret) => secret.slot === "next")?.lastFour ?? "",
    trustedMetadata: client.trustedMetadata,
    createTime: timestampFromDate(client.createTime),
    updateTime: timestampFromDate(client.updateTime),
    defaultScopes: [...client.defaultScopes],
    defaultAudiences: [...client.defaultAudiences],
    tokenLifetime: client.tokenLifetimeSeconds === null ? undefined : { seconds: BigInt(client.tokenLifetimeSeconds), nanos: 0 },
    signingAlgorithm: algorithmToProto(client.signingAlg),
    claimsTemplate: client.claimsTemplate,
    jwks: client.jwks ?? undefined,
    jwksUri: client.jwksUri ?? "",
    expireTime: client.expireTime ? timestampFromDate(client.expireTime) : undefined,
    etag: clientEtag(client),
    refreshTokensEnabled: client.refreshTokensEnabled,
    rateLimitPerSecond: client.rateLimitPerSecond ?? 0,
    annotations: { ...client.annotations },
    dpopBoundAccessTokens: client.dpopBoundAccessTokens,
    tokenEndpointAuthMethod: client.tokenEndpointAuthMethod ?? "",
    tlsClientAuthSubjectDn: client.tlsClientAuthSubjectDn ?? "",
    tlsClientAuthSanDns: client.tlsClientAuthSanDns ?? "",
    tlsClientAuthSanUri: client.tlsClientAuthSanUri ?? "",
    tlsClientAuthSanIp: client.tlsClientAuthSanIp ?? "",
    tlsClientAuthSanEmail: client.tlsClientAuthSanEmail ?? "",
  });
}

const KEY_STATE_TO_PROTO: Readonly<Record<DomainKeyState, SigningKeyState>> = {
  next: SigningKeyState.NEXT,
  active: SigningKeyState.ACTIVE,
  retired: SigningKeyState.RETIRED,
  revoked: SigningKeyState.REVOKED,
};

export function signingKeyToProto(key: LoadedSigningKey): SigningKey {
  return storedKeyToProto(key.stored);
}

export function storedKeyToProto(stored: StoredSigningKey): SigningKey {
  return create(SigningKeySchema, {
    kid: stored.kid,
    algorithm: ALGORITHM_TO_PROTO[stored.alg],
    state: KEY_STATE_TO_PROTO[stored.state],
    createTime: timestampFromDate(stored.createTime),
    activateTime: stored.activateTime ? timestampFromDate(stored.activateTime) : undefined,
    retireTime: stored.retireTime ? timestampFromDate(stored.retireTime) : undefined,
    removeTime: stored.removeTime ? timestampFromDate(stored.removeTime) : undefined,
  });
}
