/**
 * The text forms of Tessera's messages: a client as label/value lines, lists as tables.
 * Protobuf enums print as the words the rest of the CLI accepts (`active`, `ES256`).
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { timestampDate, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { AuditEvent } from "../gen/tessera/v1/audit_event_pb.js";
import { SigningAlgorithm, type Client } from "../gen/tessera/v1/client_pb.js";
import type { SigningKey } from "../gen/tessera/v1/signing_key_pb.js";
import { ALGORITHM_WORDS, KEY_STATE_WORDS, STATUS_WORDS } from "./enum-words.js";
import { renderFields, renderTable } from "./output.js";

function algorithmName(algorithm: SigningAlgorithm): string {
  return algorithm === SigningAlgorithm.UNSPECIFIED ? "server default" : ALGORITHM_WORDS[algorithm];
}

function time(timestamp: Timestamp | undefined): string {
  return timestamp ? timestampDate(timestamp).toISOString().replace(/\.\d{3}Z$/, "Z") : "";
}

const DURATION_UNITS: readonly (readonly [string, number])[] = [
  ["d", 86_400],
  ["h", 3_600],
  ["m", 60],
];

function duration(value: Duration | undefined): string {
  if (!value) return "server default";
  const seconds = Number(value.seconds);
  const unit = DURATION_UNITS.find(([, size]) => seconds % size === 0);
  return unit ? `${seconds / unit[1]}${unit[0]} (${seconds}s)` : `${seconds}s`;
}

function list(values: readonly string[]): string {
  return values.join(" ");
}

function object(value: JsonObject | undefined): string {
  return value && Object.keys(value).length > 0 ? JSON.stringify(value) : "";
}

export function clientView(client: Client): string {
  const secret = client.clientSecretLastFour ? `…${client.clientSecretLastFour}` : "";
  const nextSecret = client.nextClientSecretLastFour ? ` (rotation under way, new secret …${client.nextClientSecretLastFour})` : "";
  return renderFields([
    ["client_id", client.clientId],
    ["name", client.name],
    ["description", client.description],
    ["status", STATUS_WORDS[client.status]],
    ["scopes", list(client.scopes)],
    ["default_scopes", list(client.defaultScopes)],
    ["audiences", list(client.audiences)],
    ["default_audiences", list(client.defaultAudiences)],
    ["token_lifetime", duration(client.tokenLifetime)],
    ["signing_algorithm", algorithmName(client.signingAlgorithm)],
    ["secret", `${secret}${nextSecret}`],
    ["trusted_metadata", object(client.trustedMetadata)],
    ["jwks_uri", client.jwksUri],
    ["token_endpoint_auth_method", client.tokenEndpointAuthMethod],
    ["tls_client_auth_subject_dn", client.tlsClientAuthSubjectDn],
    ["tls_client_auth_san_dns", client.tlsClientAuthSanDns],
    ["tls_client_auth_san_uri", client.tlsClientAuthSanUri],
    ["tls_client_auth_san_ip", client.tlsClientAuthSanIp],
    ["tls_client_auth_san_email", client.tlsClientAuthSanEmail],
    ["created", time(client.createTime)],
    ["updated", time(client.updateTime)],
    ["etag", client.etag],
  ]);
}

export function clientsTable(clients: readonly Client[]): string {
  return renderTable(
    ["client id", "name", "status", "scopes", "audiences", "created"],
    clients.map((client) => [client.clientId, client.name, STATUS_WORDS[client.status], list(client.scopes), list(client.audiences), time(client.createTime)]),
  );
}

export function keyView(key: SigningKey): string {
  return renderFields([
    ["kid", key.kid],
    ["algorithm", algorithmName(key.algorithm)],
    ["state", KEY_STATE_WORDS[key.state]],
    ["created", time(key.createTime)],
    ["activated", time(key.activateTime)],
    ["retired", time(key.retireTime)],
    ["removed", time(key.removeTime)],
  ]);
}

export function keysTable(keys: readonly SigningKey[]): string {
  return renderTable(
    ["kid", "algorithm", "state", "created", "activated", "retired", "removed"],
    keys.map((key) => [key.kid, algorithmName(key.algorithm), KEY_STATE_WORDS[key.state], time(key.createTime), time(key.activateTime), time(key.retireTime), time(key.removeTime)]),
  );
}

export function auditTable(events: readonly AuditEvent[]): string {
  return renderTable(
    ["time", "action", "outcome", "actor", "client", "request id", "details"],
    events.map((event) => [time(event.time), event.action, event.outcome, event.actor, event.clientId, event.requestId, object(event.details)]),
  );
}
