/**
 * ClientRepository on Prisma. Rows become domain records here and nowhere else.
 */
import type { AuditEntry } from "../audit/audit-event.js";
import type { Annotations, ClientRecord, ClientSecretHash, Client, JsonObject } from "../clients/client.js";
import type {
  AuditEventRecord,
  ClientKeysetQuery,
  ClientPageQuery,
  ClientRepository,
  ClientVersion,
  GuardedChange,
  NewClient,
  SecretRotationStep,
  ClientUpdate,
} from "../clients/client-repository.js";
import { TesseraError } from "../errors.js";
import { isSigningAlgorithm } from "../keys/algorithms.js";
import { TOKEN_ENDPOINT_AUTH_METHODS, type TokenEndpointAuthMethod } from "../clients/client.js";
import { auditEventData, recordedAuditEvent } from "./audit-store.js";
import { announceChange } from "./change-feed.js";
import { Prisma, type PrismaClient } from "./generated/client.js";
import type { ClientModel as ClientRow, ClientSecretModel as ClientSecretRow } from "./generated/models.js";

type Transaction = Prisma.TransactionClient;

/** Advisory lock key serializing start-up client bootstraps ("tessera boot"). */
const ENSURE_CLIENT_LOCK = 0x7465_7373_626f_6f74n;

export class PrismaClientRepository implements ClientRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async createClient(input: { client: NewClient; secret: ClientSecretHash; audit: AuditEntry }): Promise<ClientRecord> {
    try {
      return await this.prisma.$transaction(async (tx) => {
        const record = await insertClient(tx, input.client, input.secret);
        await tx.auditEvent.create({ data: auditEventData(input.audit) });
        await announceChange(tx, { kind: "client", clientId: record.client.id });
        return record;
      });
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002") {
        throw new TesseraError("already_exists", `client ${input.client.id} already exists`);
      }
      throw error;
    }
  }

  async findClient(clientId: string): Promise<ClientRecord | undefined> {
    const row = await this.prisma.client.findUnique({ where: { id: clientId }, include: { secrets: true } });
    return row ? toRecord(row) : undefined;
  }

  async findClients(clientIds: readonly string[]): Promise<ClientRecord[]> {
    if (clientIds.length === 0) return [];
    const rows = await this.prisma.client.findMany({ where: { id: { in: [...clientIds] } }, include: { secrets: true } });
    return rows.map(toRecord);
  }

  async listClientsAfter(query: ClientKeysetQuery): Promise<ClientRecord[]> {
    const rows = await this.prisma.client.findMany({
      where: afterId(query),
      include: { secrets: true },
      orderBy: { id: "asc" },
      take: query.limit,
    });
    return rows.map(toRecord);
  }

  async listClientVersionsAfter(query: ClientKeysetQuery): Promise<ClientVersion[]> {
    // Three columns read off the primary-key order: no secrets, no JSON, no second query.
    return this.prisma.client.findMany({
      where: afterId(query),
      select: { id: true, revision: true, updateTime: true },
      orderBy: { id: "asc" },
      take: query.limit,
    });
  }

  async ensureClient(input: { client: NewClient; secret: ClientSecretHash; audit: AuditEntry }): Promise<ClientRecord> {
    return this.prisma.$transaction(async (tx) => {
      // Replicas starting together all ensure the same client: one at a time.
      await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${ENSURE_CLIENT_LOCK})`);
      // The advisory lock keeps out other bootstraps, not admin updates: lock the row too, so the
      // scopes merged below are not read from a copy an UpdateClient is about to replace.
      await lockClientRow(tx, input.client.id);
      const existing = await tx.client.findUnique({ where: { id: input.client.id }, include: { secrets: true } });
      if (!existing) {
        const record = await insertClient(tx, input.client, input.secret);
        await tx.auditEvent.create({ data: auditEventData(input.audit) });
        await announceChange(tx, { kind: "client", clientId: record.client.id });
        return record;
      }
      const missingScopes = input.client.allowedScopes.filter((scope) => !existing.allowedScopes.includes(scope));
      const current = existing.secrets.find((secret) => secret.slot === "current");
      const secretChanged = current?.hash !== input.secret.hash;
      if (missingScopes.length === 0 && !secretChanged) return toRecord(existing);
      if (secretChanged) {
        await tx.clientSecret.deleteMany({ where: { clientId: existing.id, slot: "current" } });
        await tx.clientSecret.create({ data: secretData(existing.id, input.secret) });
      }
      const row = await tx.client.update({
        where: { id: existing.id },
        data: {
          allowedScopes: [...existing.allowedScopes, ...missingScopes],
          defaultScopes: [...new Set([...existing.defaultScopes, ...missingScopes])],
          // A replaced bootstrap secret is the operator's way to recover a leaked one: the admin
          // tokens obtained with the old secret end with it.
          ...(secretChanged ? { tokensNotBefore: input.client.tokensNotBefore } : {}),
          revision: { increment: 1 },
          updateTime: new Date(),
        },
        include: { secrets: true },
      });
      await tx.auditEvent.create({
        data: auditEventData({ ...input.audit, details: { addedScopes: missingScopes, secretReplaced: secretChanged } }),
      });
      await announceChange(tx, { kind: "client", clientId: existing.id });
      return toRecord(row);
    });
  }

  async listClients(query: ClientPageQuery): Promise<{ records: ClientRecord[]; totalSize: number }> {
    const filter: Prisma.ClientWhereInput = {
      ...(query.status ? { status: query.status } : {}),
      // startsWith becomes LIKE 'prefix%': the prefix's own % and _ must match themselves.
      ...(query.namePrefix ? { name: { startsWith: escapeLikePattern(query.namePrefix) } } : {}),
    };
    const after = query.after;
    const page: Prisma.ClientWhereInput = after
      ? { OR: [{ createTime: { gt: after.createTime } }, { createTime: after.createTime, id: { gt: after.id } }] }
      : {};
    const [rows, totalSize] = await this.prisma.$transaction([
      this.prisma.client.findMany({
        where: { AND: [filter, page] },
        include: { secrets: true },
        orderBy: [{ createTime: "asc" }, { id: "asc" }],
        take: query.pageSize,
      }),
      this.prisma.client.count({ where: filter }),
    ]);
    return { records: rows.map(toRecord), totalSize };
  }

  async updateClient(change: GuardedChange & { revise: (current: ClientRecord) => ClientUpdate }): Promise<ClientRecord> {
    return this.prisma.$transaction(async (tx) => {
      // Claiming the revision takes the row lock; the row read after it is the newest committed
      // one and stays so until this transaction ends, so the change is merged and validated
      // against what it will actually overwrite.
      await claimRevision(tx, change);
      const locked = await tx.client.findUniqueOrThrow({ where: { id: change.clientId }, include: { secrets: true } });
      const changes = change.revise(toRecord(locked));
      const row = await tx.client.update({
        where: { id: change.clientId },
        data: {
          ...(changes.name !== undefined ? { name: changes.name } : {}),
          ...(changes.description !== undefined ? { description: changes.description } : {}),
          ...(changes.status !== undefined ? { status: changes.status } : {}),
          ...(changes.allowedScopes !== undefined ? { allowedScopes: [...changes.allowedScopes] } : {}),
          ...(changes.defaultScopes !== undefined ? { defaultScopes: [...changes.defaultScopes] } : {}),
          ...(changes.allowedAudiences !== undefined ? { allowedAudiences: [...changes.allowedAudiences] } : {}),
          ...(changes.defaultAudiences !== undefined ? { defaultAudiences: [...changes.defaultAudiences] } : {}),
          ...(changes.trustedMetadata !== undefined ? { trustedMetadata: changes.trustedMetadata as Prisma.InputJsonObject } : {}),
          ...(changes.tokenLifetimeSeconds !== undefined ? { tokenLifetimeSeconds: changes.tokenLifetimeSeconds } : {}),
          ...(changes.signingAlg !== undefined ? { signingAlg: changes.signingAlg } : {}),
          ...(changes.claimsTemplate !== undefined ? { claimsTemplate: changes.claimsTemplate as Prisma.InputJsonObject } : {}),
          ...(changes.jwks !== undefined ? { jwks: changes.jwks === null ? Prisma.DbNull : (changes.jwks as Prisma.InputJsonObject) } : {}),
          ...(changes.jwksUri !== undefined ? { jwksUri: changes.jwksUri } : {}),
          ...(changes.expireTime !== undefined ? { expireTime: changes.expireTime } : {}),
          ...(changes.refreshTokensEnabled !== undefined ? { refreshTokensEnabled: changes.refreshTokensEnabled } : {}),
          ...(changes.dpopBoundAccessTokens !== undefined ? { dpopBoundAccessTokens: changes.dpopBoundAccessTokens } : {}),
          ...(changes.rateLimitPerSecond !== undefined ? { rateLimitPerSecond: changes.rateLimitPerSecond } : {}),
          ...(changes.annotations !== undefined ? { annotations: { ...changes.annotations } } : {}),
          ...(changes.tokenEndpointAuthMethod !== undefined ? { tokenEndpointAuthMethod: changes.tokenEndpointAuthMethod } : {}),
          ...(changes.tlsClientAuthSubjectDn !== undefined ? { tlsClientAuthSubjectDn: changes.tlsClientAuthSubjectDn } : {}),
          ...(changes.tlsClientAuthSanDns !== undefined ? { tlsClientAuthSanDns: changes.tlsClientAuthSanDns } : {}),
          ...(changes.tlsClientAuthSanUri !== undefined ? { tlsClientAuthSanUri: changes.tlsClientAuthSanUri } : {}),
          ...(changes.tlsClientAuthSanIp !== undefined ? { tlsClientAuthSanIp: changes.tlsClientAuthSanIp } : {}),
          ...(changes.tlsClientAuthSanEmail !== undefined ? { tlsClientAuthSanEmail: changes.tlsClientAuthSanEmail } : {}),
          ...(changes.tokensNotBefore !== undefined ? { tokensNotBefore: changes.tokensNotBefore } : {}),
        },
        include: { secrets: true },
      });
      if (changes.status === "inactive" || changes.refreshTokensEnabled === false) {
        // Deactivation, or turning refresh tokens off, ends the chains for good: reactivating
        // (or turning them on again) must not revive them.
        await tx.refreshToken.updateMany({ where: { clientId: change.clientId, useTime: null }, data: { useTime: new Date() } });
      }
      await tx.auditEvent.create({ data: auditEventData(change.audit) });
      await announceChange(tx, { kind: "client", clientId: change.clientId });
      return toRecord(row);
    });
  }

  async deleteClient(change: GuardedChange): Promise<void> {
    await this.prisma.$transaction(async (tx) => {
      await claimRevision(tx, change);
      await tx.client.delete({ where: { id: change.clientId } });
      await tx.auditEvent.create({ data: auditEventData(change.audit) });
      await announceChange(tx, { kind: "client", clientId: change.clientId });
      // Its federation and delegation policies went with it (ON DELETE CASCADE).
      await announceChange(tx, { kind: "federation" });
    });
  }

  async rotateSecret(change: GuardedChange & { step: SecretRotationStep }): Promise<ClientRecord> {
    return this.prisma.$transaction(async (tx) => {
      await claimRevision(tx, change);
      const next = await tx.clientSecret.findUnique({ where: { clientId_slot: { clientId: change.clientId, slot: "next" } } });
      const { step } = change;
      if (step.kind === "start") {
        if (next) throw new TesseraError("failed_precondition", "a secret rotation is already in progress; complete or cancel it first");
        await tx.clientSecret.create({ data: secretData(change.clientId, step.next) });
      } else {
        if (!next) throw new TesseraError("failed_precondition", "no secret rotation is in progress");
        if (step.kind === "complete") {
          await tx.clientSecret.deleteMany({ where: { clientId: change.clientId, slot: "current" } });
          await tx.clientSecret.update({ where: { id: next.id }, data: { slot: "current" } });
        } else {
          await tx.clientSecret.delete({ where: { id: next.id } });
        }
      }
      await tx.auditEvent.create({ data: auditEventData(change.audit) });
      await announceChange(tx, { kind: "client", clientId: change.clientId });
      const row = await tx.client.findUniqueOrThrow({ where: { id: change.clientId }, include: { secrets: true } });
      return toRecord(row);
    });
  }

  async listAuditEvents(query: { pageSize: number; beforeId: bigint | undefined; clientId: string | undefined }): Promise<AuditEventRecord[]> {
    const rows = await this.prisma.auditEvent.findMany({
      where: {
        ...(query.beforeId !== undefined ? { id: { lt: query.beforeId } } : {}),
        ...(query.clientId ? { targetClientId: query.clientId } : {}),
      },
      orderBy: { id: "desc" },
      take: query.pageSize,
    });
    return rows.map(recordedAuditEvent);
  }
}

function afterId(query: ClientKeysetQuery): Prisma.ClientWhereInput {
  return query.afterId === undefined ? {} : { id: { gt: query.afterId } };
}

/**
 * Optimistic concurrency (AIP-154): bumps the revision only if it is still the one the caller
 * saw, so of two concurrent writers exactly one wins and the other gets aborted.
 */
async function claimRevision(tx: Transaction, change: GuardedChange): Promise<void> {
  const claimed = await tx.client.updateMany({
    where: { id: change.clientId, ...(change.expectedRevision !== undefined ? { revision: change.expectedRevision } : {}) },
    data: { revision: { increment: 1 }, updateTime: new Date() },
  });
  if (claimed.count === 1) return;
  const exists = await tx.client.count({ where: { id: change.clientId } });
  if (exists === 0) throw new TesseraError("not_found", `client ${change.clientId} not found`);
  throw new TesseraError("aborted", `client ${change.clientId} was changed by someone else; read it again and retry with the new etag`);
}

/** Holds the client's row until the transaction ends (no-op when there is no such row). */
async function lockClientRow(tx: Transaction, clientId: string): Promise<void> {
  await tx.$queryRaw`SELECT 1 FROM "clients" WHERE "id" = ${clientId} FOR UPDATE`;
}

/** LIKE's wildcards and its escape character (PostgreSQL's default, backslash), taken literally. */
function escapeLikePattern(text: string): string {
  return text.replace(/[\\%_]/g, "\\$&");
}

async function insertClient(tx: Transaction, client: NewClient, secret: ClientSecretHash): Promise<ClientRecord> {
  const now = new Date();
  const row = await tx.client.create({
    data: {
      id: client.id,
      name: client.name,
      description: client.description,
      status: client.status ?? "active",
      allowedScopes: [...client.allowedScopes],
      defaultScopes: [...client.defaultScopes],
      allowedAudiences: [...client.allowedAudiences],
      defaultAudiences: [...client.defaultAudiences],
      trustedMetadata: client.trustedMetadata as Prisma.InputJsonObject,
      tokenLifetimeSeconds: client.tokenLifetimeSeconds,
      signingAlg: client.signingAlg,
      claimsTemplate: client.claimsTemplate as Prisma.InputJsonObject,
      jwks: client.jwks === null ? Prisma.DbNull : (client.jwks as Prisma.InputJsonObject),
      jwksUri: client.jwksUri,
      expireTime: client.expireTime,
      refreshTokensEnabled: client.refreshTokensEnabled,
      dpopBoundAccessTokens: client.dpopBoundAccessTokens,
      rateLimitPerSecond: client.rateLimitPerSecond,
      annotations: { ...client.annotations },
      tokenEndpointAuthMethod: client.tokenEndpointAuthMethod,
      tlsClientAuthSubjectDn: client.tlsClientAuthSubjectDn,
      tlsClientAuthSanDns: client.tlsClientAuthSanDns,
      tlsClientAuthSanUri: client.tlsClientAuthSanUri,
      tlsClientAuthSanIp: client.tlsClientAuthSanIp,
      tlsClientAuthSanEmail: client.tlsClientAuthSanEmail,
      tokensNotBefore: client.tokensNotBefore,
      createTime: now,
      updateTime: now,
    },
  });
  const secretRow = await tx.clientSecret.create({ data: secretData(client.id, secret) });
  return toRecord({ ...row, secrets: [secretRow] });
}

function secretData(clientId: string, secret: ClientSecretHash) {
  return {
    id: crypto.randomUUID(),
    clientId,
    slot: secret.slot,
    algorithm: secret.algorithm,
    hash: secret.hash,
    lastFour: secret.lastFour,
    createTime: secret.createTime,
  };
}

function toRecord(row: ClientRow & { secrets: ClientSecretRow[] }): ClientRecord {
  return { client: toClient(row), secrets: row.secrets.map(toSecretHash) };
}

export function toClient(row: ClientRow): Client {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    status: row.status === "inactive" ? "inactive" : "active",
    allowedScopes: row.allowedScopes,
    defaultScopes: row.defaultScopes,
    allowedAudiences: row.allowedAudiences,
    defaultAudiences: row.defaultAudiences,
    trustedMetadata: asJsonObject(row.trustedMetadata),
    tokenLifetimeSeconds: row.tokenLifetimeSeconds,
    signingAlg: isSigningAlgorithm(row.signingAlg) ? row.signingAlg : null,
    claimsTemplate: asJsonObject(row.claimsTemplate),
    jwks: row.jwks === null ? null : asJsonObject(row.jwks),
    jwksUri: row.jwksUri,
    expireTime: row.expireTime,
    refreshTokensEnabled: row.refreshTokensEnabled,
    dpopBoundAccessTokens: row.dpopBoundAccessTokens,
    rateLimitPerSecond: row.rateLimitPerSecond,
    annotations: annotationsOf(row.annotations),
    tokenEndpointAuthMethod: isTokenEndpointAuthMethod(row.tokenEndpointAuthMethod) ? row.tokenEndpointAuthMethod : null,
    tlsClientAuthSubjectDn: row.tlsClientAuthSubjectDn,
    tlsClientAuthSanDns: row.tlsClientAuthSanDns,
    tlsClientAuthSanUri: row.tlsClientAuthSanUri,
    tlsClientAuthSanIp: row.tlsClientAuthSanIp,
    tlsClientAuthSanEmail: row.tlsClientAuthSanEmail,
    tokensNotBefore: row.tokensNotBefore,
    revision: row.revision,
    createTime: row.createTime,
    updateTime: row.updateTime,
  };
}

function toSecretHash(row: ClientSecretRow): ClientSecretHash {
  return {
    slot: row.slot === "next" ? "next" : "current",
    algorithm: "sha256",
    hash: row.hash,
    lastFour: row.lastFour,
    createTime: row.createTime,
  };
}

function asJsonObject(value: Prisma.JsonValue): JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as JsonObject) : {};
}

/** Annotations as stored: a JSON object of strings (anything else was never written by Tessera). */
export function annotationsOf(value: Prisma.JsonValue): Annotations {
  const object = asJsonObject(value);
  return Object.fromEntries(Object.entries(object).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}

function isTokenEndpointAuthMethod(value: string | null): value is TokenEndpointAuthMethod {
  return value !== null && (TOKEN_ENDPOINT_AUTH_METHODS as readonly string[]).includes(value);
}
