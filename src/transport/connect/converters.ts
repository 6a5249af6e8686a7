/**
 * Protobuf ↔ domain conversions for the Connect services. Pure functions, no logic beyond
 * shape: defaults and validation belong to the domain.
 */
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { ClientRecord, JsonObject } from "../../clients/client.js";
import { clientEtag } from "../../clients/client.js";
import type { CreateClientInput } from "../../clients/client-admin.js";
import { invalidArgument } from "../../clients/client-validation.js";
import type { SigningAlgorithm as DomainAlgorithm } from "../../keys/algorithms.js";
import type { LoadedSigningKey } from "../../keys/key-ring.js";
import type { SigningKeyState as DomainKeyState } from "../../keys/signing-key.js";
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

function dateOrNull(timestamp: Timestamp | undefined): Date | null {
  return timestamp ? timestampDate(timestamp) : null;
}

export function createClientInput(request: CreateClientRequest): CreateClientInput {
  return {
    clientId: request.clientId || undefined,
    name: request.name,
    description: request.description,
    allowedScopes: request.scopes,
    defaultScopes: request.defaultScopes,
    allowedAudiences: request.audiences,
    defaultAudiences: request.defaultAudiences,
    trustedMetadata: request.trustedMetadata as JsonObject | undefined,
    tokenLifetimeSeconds: durationSeconds(request.tokenLifetime, "token_lifetime"),
    signingAlg: algorithmFromProto(request.signingAlgorithm, "signing_algorithm"),
    claimsTemplate: request.claimsTemplate as JsonObject | undefined,
    jwks: (request.jwks as JsonObject | undefined) ?? null,
    expireTime: dateOrNull(request.expireTime),
    refreshTokensEnabled: request.refreshTokensEnabled,
  };
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
    expireTime: client.expireTime ? timestampFromDate(client.expireTime) : undefined,
    etag: clientEtag(client),
    refreshTokensEnabled: client.refreshTokensEnabled,
  });
}

const KEY_STATE_TO_PROTO: Readonly<Record<DomainKeyState, SigningKeyState>> = {
  next: SigningKeyState.NEXT,
  active: SigningKeyState.ACTIVE,
  retired: SigningKeyState.RETIRED,
  revoked: SigningKeyState.REVOKED,
};

export function signingKeyToProto(key: LoadedSigningKey): SigningKey {
  const { stored } = key;
  return create(SigningKeySchema, {
    kid: key.kid,
    algorithm: ALGORITHM_TO_PROTO[key.alg],
    state: KEY_STATE_TO_PROTO[key.state],
    createTime: timestampFromDate(stored.createTime),
    activateTime: stored.activateTime ? timestampFromDate(stored.activateTime) : undefined,
    retireTime: stored.retireTime ? timestampFromDate(stored.retireTime) : undefined,
    removeTime: stored.removeTime ? timestampFromDate(stored.removeTime) : undefined,
  });
}
