/**
 * Client administration use cases. Transports call these with already-authorized actors;
 * each change is validated here, committed with its audit entry by the repository, and then
 * applied to the in-memory registry that the hot path reads.
 */
import { randomBytes } from "node:crypto";
import type { Actor } from "../audit/audit-event.js";
import { TesseraError } from "../errors.js";
import type { SigningAlgorithm } from "../keys/algorithms.js";
import type { ClientRecord, JsonObject } from "./client.js";
import type { ClientRegistry } from "./client-registry.js";
import type { ClientRepository } from "./client-repository.js";
import { generateClientSecret, hashNewSecret } from "./client-secret.js";
import {
  LIMITS,
  checkAudiences,
  checkClientId,
  checkDescription,
  checkClaimsTemplate,
  checkClientJwks,
  checkJsonSize,
  checkName,
  checkScopes,
  checkSubset,
  checkTokenLifetime,
} from "./client-validation.js";

/** Scopes that unlock Tessera's own APIs. */
export const ADMIN_SCOPE = "tessera:admin";
export const CLIENTS_READ_SCOPE = "tessera:clients:read";
export const INTROSPECT_SCOPE = "tessera:introspect";

export interface CreateClientInput {
  /** Caller-chosen id; generated when absent. */
  readonly clientId?: string | undefined;
  readonly name: string;
  readonly description?: string | undefined;
  readonly allowedScopes?: readonly string[] | undefined;
  /** Absent: all allowed scopes. */
  readonly defaultScopes?: readonly string[] | undefined;
  readonly allowedAudiences?: readonly string[] | undefined;
  /** Absent: the first allowed audience. */
  readonly defaultAudiences?: readonly string[] | undefined;
  readonly trustedMetadata?: JsonObject | undefined;
  readonly tokenLifetimeSeconds?: number | null | undefined;
  readonly signingAlg?: SigningAlgorithm | null | undefined;
  readonly claimsTemplate?: JsonObject | undefined;
  readonly jwks?: JsonObject | null | undefined;
  readonly expireTime?: Date | null | undefined;
  readonly refreshTokensEnabled?: boolean | undefined;
}

export interface CreatedClient {
  readonly record: ClientRecord;
  /** The plaintext secret: return it to the caller once, never store or log it. */
  readonly secret: string;
}

export class ClientAdmin {
  constructor(
    private readonly options: {
      repository: ClientRepository;
      registry: ClientRegistry;
      maxTokenLifetimeSeconds: number;
    },
  ) {}

  async createClient(input: CreateClientInput, actor: Actor): Promise<CreatedClient> {
    const clientId = input.clientId ? input.clientId : generateClientId();
    checkClientId(clientId);
    checkName(input.name);
    const description = input.description ?? "";
    checkDescription(description);
    const allowedScopes = [...(input.allowedScopes ?? [])];
    checkScopes(allowedScopes);
    const defaultScopes = input.defaultScopes && input.defaultScopes.length > 0 ? [...input.defaultScopes] : allowedScopes;
    checkScopes(defaultScopes, "default_scopes");
    checkSubset(defaultScopes, allowedScopes, "default_scopes", "scopes");
    const allowedAudiences = [...(input.allowedAudiences ?? [])];
    checkAudiences(allowedAudiences);
    const defaultAudiences =
      input.defaultAudiences && input.defaultAudiences.length > 0 ? [...input.defaultAudiences] : allowedAudiences.slice(0, 1);
    checkAudiences(defaultAudiences, "default_audiences");
    checkSubset(defaultAudiences, allowedAudiences, "default_audiences", "audiences");
    const trustedMetadata = input.trustedMetadata ?? {};
    checkJsonSize(trustedMetadata, "trusted_metadata", LIMITS.trustedMetadataBytes);
    const claimsTemplate = input.claimsTemplate ?? {};
    checkClaimsTemplate(claimsTemplate);
    const jwks = input.jwks ?? null;
    checkClientJwks(jwks);
    const tokenLifetimeSeconds = input.tokenLifetimeSeconds ?? null;
    checkTokenLifetime(tokenLifetimeSeconds, this.options.maxTokenLifetimeSeconds);

    const { secret, stored } = generateClientSecret("current");
    const record = await this.options.repository.createClient({
      client: {
        id: clientId,
        name: input.name,
        description,
        allowedScopes,
        defaultScopes,
        allowedAudiences,
        defaultAudiences,
        trustedMetadata,
        tokenLifetimeSeconds,
        signingAlg: input.signingAlg ?? null,
        claimsTemplate,
        jwks,
        expireTime: input.expireTime ?? null,
        refreshTokensEnabled: input.refreshTokensEnabled ?? false,
      },
      secret: stored,
      audit: {
        actor: actor.clientId,
        action: "client.create",
        targetClientId: clientId,
        outcome: "success",
        requestId: actor.requestId,
        details: { name: input.name, scopes: allowedScopes, audiences: allowedAudiences },
      },
    });
    this.options.registry.put(record);
    return { record, secret };
  }

  /**
   * Start-up bootstrap: the operator's admin client exists, may request the admin and
   * introspection scopes, and authenticates with the configured secret. Idempotent.
   */
  async ensureBootstrapAdmin(input: { clientId: string; clientSecret: string; audience: string }): Promise<ClientRecord> {
    checkClientId(input.clientId, "TESSERA_ADMIN_CLIENT_ID");
    const scopes = [ADMIN_SCOPE, INTROSPECT_SCOPE];
    const record = await this.options.repository.ensureClient({
      client: {
        id: input.clientId,
        name: "Tessera bootstrap admin",
        description: "Created from TESSERA_ADMIN_CLIENT_ID at start-up.",
        allowedScopes: scopes,
        defaultScopes: scopes,
        // Admin tokens are for Tessera itself: the admin API checks aud = issuer.
        allowedAudiences: [input.audience],
        defaultAudiences: [input.audience],
        trustedMetadata: {},
        tokenLifetimeSeconds: null,
        signingAlg: null,
        claimsTemplate: {},
        jwks: null,
        expireTime: null,
        refreshTokensEnabled: false,
      },
      secret: hashNewSecret(input.clientSecret, "current"),
      audit: { actor: "bootstrap", action: "client.bootstrap", targetClientId: input.clientId, outcome: "success" },
    });
    this.options.registry.put(record);
    return record;
  }
}

function generateClientId(): string {
  // 96 random bits in the unreserved alphabet: unguessable enough that ids leak nothing.
  return `tc_${randomBytes(12).toString("base64url")}`;
}

export function notFound(clientId: string): TesseraError {
  return new TesseraError("not_found", `client ${clientId} not found`);
}
