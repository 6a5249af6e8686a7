/**
 * Client administration use cases. Transports call these with already-authorized actors;
 * each change is validated here, committed with its audit entry by the repository, and then
 * applied to the in-memory registry that the hot path reads.
 */
import { randomBytes } from "node:crypto";
import type { Actor, AuditEntry } from "../audit/audit-event.js";
import { TesseraError } from "../errors.js";
import type { SigningAlgorithm } from "../keys/algorithms.js";
import type { Annotations, Client, ClientRecord, ClientStatus, JsonObject, TokenEndpointAuthMethod } from "./client.js";
import type { ClientRegistry } from "./client-registry.js";
import type { ClientChanges, ClientRepository, ClientUpdate, NewClient } from "./client-repository.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { generateClientSecret, hashNewSecret } from "./client-secret.js";
import { ADMIN_SCOPE, INTROSPECT_SCOPE, REVOKE_SCOPE } from "./tessera-scopes.js";
import {
  LIMITS,
  checkAudiences,
  checkClientId,
  checkAnnotations,
  checkDescription,
  checkNamePrefix,
  checkRateLimit,
  checkClaimsTemplate,
  checkClientJwks,
  checkClientJwksUri,
  checkJsonField,
  checkName,
  checkScopes,
  checkSubset,
  checkImportedSecret,
  checkTokenLifetime,
  checkTokenEndpointAuth,
  invalidArgument,
} from "./client-validation.js";
import { parseEtag } from "../etag.js";

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 500;
const MAX_INT64 = 2n ** 63n - 1n;

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
  readonly jwksUri?: string | null | undefined;
  readonly expireTime?: Date | null | undefined;
  readonly refreshTokensEnabled?: boolean | undefined;
  readonly dpopBoundAccessTokens?: boolean | undefined;
  readonly rateLimitPerSecond?: number | null | undefined;
  readonly annotations?: Annotations | undefined;
  /** RFC 7591 §2; absent or null: unset (see Client.tokenEndpointAuthMethod). */
  readonly tokenEndpointAuthMethod?: string | null | undefined;
  readonly tlsClientAuthSubjectDn?: string | null | undefined;
  readonly tlsClientAuthSanDns?: string | null | undefined;
  readonly tlsClientAuthSanUri?: string | null | undefined;
  readonly tlsClientAuthSanIp?: string | null | undefined;
  readonly tlsClientAuthSanEmail?: string | null | undefined;
}

export interface CreatedClient {
  readonly record: ClientRecord;
  /** The plaintext secret: return it to the caller once, never store or log it. */
  readonly secret: string;
}

/** A client as an admin defines it; Tessera adds the token cut-off. */
type ClientDefinition = Omit<NewClient, "tokensNotBefore">;

export class ClientAdmin {
  private readonly now: () => Date;

  constructor(
    private readonly options: {
      repository: ClientRepository;
      registry: ClientRegistry;
      maxTokenLifetimeSeconds: number;
      /** The clock the token issuer reads, so cut-offs and `iat` compare on one time line. */
      now?: () => Date;
    },
  ) {
    this.now = options.now ?? (() => new Date());
  }

  async createClient(input: CreateClientInput, actor: Actor): Promise<CreatedClient> {
    const client = this.newClient(input);
    const { secret, stored } = generateClientSecret("current");
    const record = await this.options.repository.createClient({
      client,
      secret: stored,
      audit: auditOf(actor, "client.create", client.id, {
        name: client.name,
        scopes: client.allowedScopes,
        audiences: client.allowedAudiences,
        ...(client.tokenEndpointAuthMethod ? { tokenEndpointAuthMethod: client.tokenEndpointAuthMethod } : {}),
      }),
    });
    this.options.registry.put(record);
    return { record, secret };
  }

  /**
   * Registers a client that already has a secret elsewhere (a migration). The secret is only
   * hashed, never returned; it must be long and varied enough not to be guessable.
   */
  async importClient(input: CreateClientInput & { clientSecret: string }, actor: Actor): Promise<ClientRecord> {
    if (!input.clientId) throw invalidArgument("client.client_id", "is required when importing");
    checkImportedSecret(input.clientSecret);
    const client = this.newClient(input);
    const record = await this.options.repository.createClient({
      client,
      secret: hashNewSecret(input.clientSecret, "current"),
      audit: auditOf(actor, "client.import", client.id, { name: client.name }),
    });
    this.options.registry.put(record);
    return record;
  }

  async getClient(clientId: string): Promise<ClientRecord> {
    checkClientId(clientId);
    const record = await this.options.repository.findClient(clientId);
    if (!record) throw notFound(clientId);
    return record;
  }

  async listClients(query: {
    pageSize: number;
    pageToken: string;
    status: ClientStatus | undefined;
    namePrefix: string | undefined;
  }): Promise<{ records: ClientRecord[]; nextPageToken: string; totalSize: number }> {
    if (query.pageSize < 0) throw invalidArgument("page_size", "must not be negative");
    const pageSize = Math.min(query.pageSize || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
    if (query.namePrefix) checkNamePrefix(query.namePrefix);
    const filter = { status: query.status, namePrefix: query.namePrefix || undefined };
    const after = query.pageToken ? decodePageToken(query.pageToken, filter) : undefined;
    // One extra row tells whether another page follows without a second query.
    const { records, totalSize } = await this.options.repository.listClients({ pageSize: pageSize + 1, after, ...filter });
    const page = records.slice(0, pageSize);
    const last = page.at(-1);
    const nextPageToken = records.length > pageSize && last ? encodePageToken({ createTime: last.client.createTime, id: last.client.id }, filter) : "";
    return { records: page, nextPageToken, totalSize };
  }

  /**
   * Changes the named fields; the result must be a valid client as a whole. The merge and the
   * validation run on the stored client as locked for the write, not on an earlier read.
   */
  async updateClient(input: { clientId: string; etag: string; changes: ClientChanges }, actor: Actor): Promise<ClientRecord> {
    checkClientId(input.clientId);
    const expectedRevision = parseEtag(input.etag);
    const changed = Object.keys(input.changes) as (keyof ClientChanges)[];
    return this.apply(
      this.options.repository.updateClient({
        clientId: input.clientId,
        expectedRevision,
        revise: ({ client: current }) => {
          const merged = this.defineClient({ ...current, ...input.changes, clientId: current.id });
          const changes = Object.fromEntries(
            changed.map((field) => [field, merged[field as keyof ClientDefinition] ?? input.changes[field]]),
          ) as ClientChanges;
          return { ...changes, ...this.tokenCutoff(current, { ...current, ...changes }) };
        },
        audit: auditOf(actor, "client.update", input.clientId, { fields: changed }),
      }),
    );
  }

  async setStatus(input: { clientId: string; etag: string; status: ClientStatus }, actor: Actor): Promise<ClientRecord> {
    checkClientId(input.clientId);
    return this.apply(
      this.options.repository.updateClient({
        clientId: input.clientId,
        expectedRevision: parseEtag(input.etag),
        revise: ({ client: current }) => ({ status: input.status, ...this.tokenCutoff(current, { ...current, status: input.status }) }),
        audit: auditOf(actor, input.status === "active" ? "client.reactivate" : "client.deactivate", input.clientId),
      }),
    );
  }

  /**
   * Whether a change ends the client's outstanding tokens, and the cut-off if so. Tokens must
   * not outlive a deactivation, and must not come back with a reactivation or with a renewed
   * expiry (they were dead while the client was expired). A cut-off also on reactivation catches
   * tokens a replica issued before it heard of the deactivation. Secret rotation leaves tokens
   * alone: it is the routine, overlapping change of credentials; deactivation is the way to end a
   * leaked client's tokens at once. (Scopes and audiences withdrawn from a client stop counting
   * in its tokens at verification, without ending them.)
   */
  private tokenCutoff(before: Client, after: Pick<Client, "status" | "expireTime">): Pick<ClientUpdate, "tokensNotBefore"> {
    const now = this.now();
    const expiredBefore = before.expireTime !== null && before.expireTime.getTime() <= now.getTime();
    const revived = expiredBefore && (after.expireTime === null || after.expireTime.getTime() > now.getTime());
    return after.status !== before.status || revived ? { tokensNotBefore: now } : {};
  }

  async deleteClient(input: { clientId: string; etag: string }, actor: Actor): Promise<void> {
    checkClientId(input.clientId);
    await this.options.repository.deleteClient({
      clientId: input.clientId,
      expectedRevision: parseEtag(input.etag),
      audit: auditOf(actor, "client.delete", input.clientId),
    });
    this.options.registry.remove(input.clientId);
  }

  /** Adds a second secret; both work until the rotation completes. Returns the new secret once. */
  async startSecretRotation(clientId: string, actor: Actor): Promise<CreatedClient> {
    checkClientId(clientId);
    const { secret, stored } = generateClientSecret("next");
    const record = await this.apply(
      this.options.repository.rotateSecret({
        clientId,
        expectedRevision: undefined,
        step: { kind: "start", next: stored },
        audit: auditOf(actor, "client.secret_rotation.start", clientId, { nextLastFour: stored.lastFour }),
      }),
    );
    return { record, secret };
  }

  async finishSecretRotation(clientId: string, outcome: "complete" | "cancel", actor: Actor): Promise<ClientRecord> {
    checkClientId(clientId);
    return this.apply(
      this.options.repository.rotateSecret({
        clientId,
        expectedRevision: undefined,
        step: { kind: outcome },
        audit: auditOf(actor, `client.secret_rotation.${outcome}`, clientId),
      }),
    );
  }

  async listAuditEvents(query: { pageSize: number; pageToken: string; clientId: string | undefined }) {
    if (query.pageSize < 0) throw invalidArgument("page_size", "must not be negative");
    const pageSize = Math.min(query.pageSize || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
    let beforeId: bigint | undefined;
    if (query.pageToken) {
      // Audit ids are bigint (int64) row ids; anything else was not issued here.
      if (!/^\d{1,19}$/.test(query.pageToken) || BigInt(query.pageToken) > MAX_INT64) {
        throw invalidArgument("page_token", "is not a token this server issued");
      }
      beforeId = BigInt(query.pageToken);
    }
    if (query.clientId) checkClientId(query.clientId);
    const events = await this.options.repository.listAuditEvents({ pageSize: pageSize + 1, beforeId, clientId: query.clientId || undefined });
    const page = events.slice(0, pageSize);
    return { events: page, nextPageToken: events.length > pageSize ? String(page.at(-1)!.id) : "" };
  }

  /** Commits a change and makes the hot path see it at once. */
  private async apply(change: Promise<ClientRecord>): Promise<ClientRecord> {
    const record = await change;
    this.options.registry.put(record);
    return record;
  }

  /** A new client's definition, with the cut-off that ends any token of an earlier client of the same id. */
  private newClient(input: CreateClientInput): NewClient {
    return { ...this.defineClient(input), tokensNotBefore: this.now() };
  }

  /** Validates a full client definition and fills in defaults. */
  private defineClient(input: CreateClientInput): ClientDefinition {
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
    checkJsonField(trustedMetadata, "trusted_metadata", LIMITS.trustedMetadataBytes);
    const claimsTemplate = input.claimsTemplate ?? {};
    checkClaimsTemplate(claimsTemplate);
    const jwks = input.jwks ?? null;
    checkClientJwks(jwks);
    const jwksUri = input.jwksUri || null;
    checkClientJwksUri(jwksUri, jwks);
    const tokenLifetimeSeconds = input.tokenLifetimeSeconds ?? null;
    checkTokenLifetime(tokenLifetimeSeconds, this.options.maxTokenLifetimeSeconds);
    const rateLimitPerSecond = input.rateLimitPerSecond || null;
    checkRateLimit(rateLimitPerSecond);
    const annotations = { ...(input.annotations ?? {}) };
    checkAnnotations(annotations);
    const authentication = {
      tokenEndpointAuthMethod: (input.tokenEndpointAuthMethod || null) as TokenEndpointAuthMethod | null,
      tlsClientAuthSubjectDn: input.tlsClientAuthSubjectDn || null,
      tlsClientAuthSanDns: input.tlsClientAuthSanDns || null,
      tlsClientAuthSanUri: input.tlsClientAuthSanUri || null,
      tlsClientAuthSanIp: input.tlsClientAuthSanIp || null,
      tlsClientAuthSanEmail: input.tlsClientAuthSanEmail || null,
    };
    // The cast is checked here: an unknown method is refused by name.
    checkTokenEndpointAuth({ ...authentication, jwks, jwksUri });
    return {
      ...authentication,
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
      jwksUri,
      expireTime: input.expireTime ?? null,
      refreshTokensEnabled: input.refreshTokensEnabled ?? false,
      dpopBoundAccessTokens: input.dpopBoundAccessTokens ?? false,
      rateLimitPerSecond,
      annotations,
    };
  }

  /**
   * Start-up bootstrap: the operator's admin client exists, may request the admin and
   * introspection scopes, and authenticates with the configured secret. Idempotent.
   */
  async ensureBootstrapAdmin(input: { clientId: string; clientSecret: string; audience: string; description?: string }): Promise<ClientRecord> {
    checkClientId(input.clientId, "TESSERA_ADMIN_CLIENT_ID");
    const scopes = [ADMIN_SCOPE, INTROSPECT_SCOPE, REVOKE_SCOPE];
    const record = await this.options.repository.ensureClient({
      client: {
        id: input.clientId,
        name: "Tessera bootstrap admin",
        description: input.description ?? "Created from TESSERA_ADMIN_CLIENT_ID at start-up.",
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
        jwksUri: null,
        expireTime: null,
        refreshTokensEnabled: false,
        dpopBoundAccessTokens: false,
        rateLimitPerSecond: null,
        annotations: {},
        tokenEndpointAuthMethod: null,
        tlsClientAuthSubjectDn: null,
        tlsClientAuthSanDns: null,
        tlsClientAuthSanUri: null,
        tlsClientAuthSanIp: null,
        tlsClientAuthSanEmail: null,
        tokensNotBefore: this.now(),
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

function auditOf(actor: Actor, action: string, clientId: string, details?: Record<string, unknown>): AuditEntry {
  return { actor: actor.clientId, action, targetClientId: clientId, outcome: "success", requestId: actor.requestId, details };
}


export function notFound(clientId: string): TesseraError {
  return new TesseraError("not_found", `client ${clientId} not found`);
}
