/**
 * FederationRepository on Prisma. Rows become domain resources here and nowhere else. Every
 * change writes its audit entry and announces a federation change in the same transaction, so a
 * change is either whole (row, audit, announcement) or absent.
 */
import type { AuditEntry } from "../audit/audit-event.js";
import type { JsonObject } from "../clients/client.js";
import { TesseraError } from "../errors.js";
import type { ClaimCondition, ClaimConditionOperator, DelegationPolicy, FederationPolicy, IssuerKeySource, TrustedIssuer } from "../federation/federation.js";
import type {
  DelegationPolicyDefinition,
  FederationPageQuery,
  FederationPolicyDefinition,
  FederationRepository,
  FederationSnapshot,
  GuardedResourceChange,
  ResourceRevision,
  TrustedIssuerDefinition,
} from "../federation/federation-repository.js";
import { auditEventData } from "./audit-store.js";
import { annotationsOf } from "./client-store.js";
import { announceChange } from "./change-feed.js";
import { Prisma, type PrismaClient } from "./generated/client.js";
import type {
  DelegationPolicyModel as DelegationRow,
  FederationPolicyModel as FederationRow,
  TrustedIssuerModel as IssuerRow,
} from "./generated/models.js";

type Transaction = Prisma.TransactionClient;

export class PrismaFederationRepository implements FederationRepository {
  constructor(private readonly prisma: PrismaClient) {}

  // Trusted issuers.

  async createTrustedIssuer(input: { definition: TrustedIssuerDefinition; audit: AuditEntry }): Promise<TrustedIssuer> {
    try {
      return await this.prisma.$transaction(async (tx) => {
        const now = new Date();
        const row = await tx.trustedIssuer.create({ data: { ...issuerData(input.definition), createTime: now, updateTime: now } });
        await committed(tx, input.audit);
        return toTrustedIssuer(row);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new TesseraError("already_exists", `trusted issuer ${input.definition.issuer} already exists`);
      throw error;
    }
  }

  async findTrustedIssuer(issuer: string): Promise<TrustedIssuer | undefined> {
    const row = await this.prisma.trustedIssuer.findUnique({ where: { issuer } });
    return row ? toTrustedIssuer(row) : undefined;
  }

  async listTrustedIssuers(query: FederationPageQuery): Promise<TrustedIssuer[]> {
    const after = query.after;
    const rows = await this.prisma.trustedIssuer.findMany({
      where: after ? { OR: [{ createTime: { gt: after.createTime } }, { createTime: after.createTime, issuer: { gt: after.id } }] } : {},
      orderBy: [{ createTime: "asc" }, { issuer: "asc" }],
      take: query.pageSize,
    });
    return rows.map(toTrustedIssuer);
  }

  async updateTrustedIssuer(change: ResourceRevision<TrustedIssuer, TrustedIssuerDefinition>): Promise<TrustedIssuer> {
    return this.prisma.$transaction(async (tx) => {
      await claim(change, "trusted issuer", () =>
        tx.trustedIssuer.updateMany({ where: { issuer: change.id, ...revisionOf(change) }, data: bumped() }),
        () => tx.trustedIssuer.count({ where: { issuer: change.id } }),
      );
      const locked = toTrustedIssuer(await tx.trustedIssuer.findUniqueOrThrow({ where: { issuer: change.id } }));
      const row = await tx.trustedIssuer.update({ where: { issuer: change.id }, data: issuerData(change.revise(locked)) });
      await committed(tx, change.audit);
      return toTrustedIssuer(row);
    });
  }

  async deleteTrustedIssuer(change: GuardedResourceChange): Promise<void> {
    await this.prisma.$transaction(async (tx) => {
      await claim(change, "trusted issuer", () =>
        tx.trustedIssuer.updateMany({ where: { issuer: change.id, ...revisionOf(change) }, data: bumped() }),
        () => tx.trustedIssuer.count({ where: { issuer: change.id } }),
      );
      // The claimed row is locked, and a policy insert naming it waits on that lock (the
      // foreign key), so this count cannot miss a policy committed meanwhile.
      const policies = await tx.federationPolicy.count({ where: { issuer: change.id } });
      if (policies > 0) {
        throw new TesseraError(
          "failed_precondition",
          `trusted issuer ${change.id} is named by ${policies} federation ${policies === 1 ? "policy" : "policies"}; delete them first`,
        );
      }
      await tx.trustedIssuer.delete({ where: { issuer: change.id } });
      await committed(tx, change.audit);
    });
  }

  // Federation policies.

  async createFederationPolicy(input: { definition: FederationPolicyDefinition; audit: AuditEntry }): Promise<FederationPolicy> {
    return this.prisma.$transaction(async (tx) => {
      await checkReferences(tx, input.definition);
      const now = new Date();
      const row = await tx.federationPolicy.create({ data: { id: input.definition.id, ...federationData(input.definition), createTime: now, updateTime: now } });
      await committed(tx, input.audit);
      return toFederationPolicy(row);
    }).catch((error: unknown) => {
      if (isUniqueViolation(error)) throw new TesseraError("already_exists", `federation policy ${input.definition.id} already exists`);
      throw error;
    });
  }

  async findFederationPolicy(id: string): Promise<FederationPolicy | undefined> {
    const row = await this.prisma.federationPolicy.findUnique({ where: { id } });
    return row ? toFederationPolicy(row) : undefined;
  }

  async listFederationPolicies(query: FederationPageQuery): Promise<FederationPolicy[]> {
    const rows = await this.prisma.federationPolicy.findMany({
      where: {
        AND: [
          query.issuer ? { issuer: query.issuer } : {},
          query.clientId ? { clientId: query.clientId } : {},
          query.after ? { OR: [{ createTime: { gt: query.after.createTime } }, { createTime: query.after.createTime, id: { gt: query.after.id } }] } : {},
        ],
      },
      orderBy: [{ createTime: "asc" }, { id: "asc" }],
      take: query.pageSize,
    });
    return rows.map(toFederationPolicy);
  }

  async updateFederationPolicy(change: ResourceRevision<FederationPolicy, FederationPolicyDefinition>): Promise<FederationPolicy> {
    return this.prisma.$transaction(async (tx) => {
      await claim(change, "federation policy", () =>
        tx.federationPolicy.updateMany({ where: { id: change.id, ...revisionOf(change) }, data: bumped() }),
        () => tx.federationPolicy.count({ where: { id: change.id } }),
      );
      const locked = toFederationPolicy(await tx.federationPolicy.findUniqueOrThrow({ where: { id: change.id } }));
      const definition = change.revise(locked);
      await checkReferences(tx, definition);
      const row = await tx.federationPolicy.update({ where: { id: change.id }, data: federationData(definition) });
      await committed(tx, { ...change.audit, targetClientId: definition.clientId });
      return toFederationPolicy(row);
    });
  }

  async deleteFederationPolicy(change: GuardedResourceChange): Promise<void> {
    await this.prisma.$transaction(async (tx) => {
      await claim(change, "federation policy", () =>
        tx.federationPolicy.updateMany({ where: { id: change.id, ...revisionOf(change) }, data: bumped() }),
        () => tx.federationPolicy.count({ where: { id: change.id } }),
      );
      const row = await tx.federationPolicy.delete({ where: { id: change.id } });
      await committed(tx, { ...change.audit, targetClientId: row.clientId });
    });
  }

  // Delegation policies.

  async createDelegationPolicy(input: { definition: DelegationPolicyDefinition; audit: AuditEntry }): Promise<DelegationPolicy> {
    return this.prisma.$transaction(async (tx) => {
      await checkClient(tx, input.definition.clientId);
      const now = new Date();
      const row = await tx.delegationPolicy.create({ data: { id: input.definition.id, ...delegationData(input.definition), createTime: now, updateTime: now } });
      await committed(tx, input.audit);
      return toDelegationPolicy(row);
    }).catch((error: unknown) => {
      if (isUniqueViolation(error)) throw new TesseraError("already_exists", `delegation policy ${input.definition.id} already exists`);
      throw error;
    });
  }

  async findDelegationPolicy(id: string): Promise<DelegationPolicy | undefined> {
    const row = await this.prisma.delegationPolicy.findUnique({ where: { id } });
    return row ? toDelegationPolicy(row) : undefined;
  }

  async listDelegationPolicies(query: FederationPageQuery): Promise<DelegationPolicy[]> {
    const rows = await this.prisma.delegationPolicy.findMany({
      where: {
        AND: [
          query.clientId ? { clientId: query.clientId } : {},
          query.after ? { OR: [{ createTime: { gt: query.after.createTime } }, { createTime: query.after.createTime, id: { gt: query.after.id } }] } : {},
        ],
      },
      orderBy: [{ createTime: "asc" }, { id: "asc" }],
      take: query.pageSize,
    });
    return rows.map(toDelegationPolicy);
  }

  async updateDelegationPolicy(change: ResourceRevision<DelegationPolicy, DelegationPolicyDefinition>): Promise<DelegationPolicy> {
    return this.prisma.$transaction(async (tx) => {
      await claim(change, "delegation policy", () =>
        tx.delegationPolicy.updateMany({ where: { id: change.id, ...revisionOf(change) }, data: bumped() }),
        () => tx.delegationPolicy.count({ where: { id: change.id } }),
      );
      const locked = toDelegationPolicy(await tx.delegationPolicy.findUniqueOrThrow({ where: { id: change.id } }));
      const definition = change.revise(locked);
      await checkClient(tx, definition.clientId);
      const row = await tx.delegationPolicy.update({ where: { id: change.id }, data: delegationData(definition) });
      await committed(tx, { ...change.audit, targetClientId: definition.clientId });
      return toDelegationPolicy(row);
    });
  }

  async deleteDelegationPolicy(change: GuardedResourceChange): Promise<void> {
    await this.prisma.$transaction(async (tx) => {
      await claim(change, "delegation policy", () =>
        tx.delegationPolicy.updateMany({ where: { id: change.id, ...revisionOf(change) }, data: bumped() }),
        () => tx.delegationPolicy.count({ where: { id: change.id } }),
      );
      const row = await tx.delegationPolicy.delete({ where: { id: change.id } });
      await committed(tx, { ...change.audit, targetClientId: row.clientId });
    });
  }

  async loadAll(): Promise<FederationSnapshot> {
    // One transaction: a policy is never seen without the issuer it names.
    const [issuers, federationPolicies, delegationPolicies] = await this.prisma.$transaction([
      this.prisma.trustedIssuer.findMany(),
      this.prisma.federationPolicy.findMany(),
      this.prisma.delegationPolicy.findMany(),
    ]);
    return {
      trustedIssuers: issuers.map(toTrustedIssuer),
      federationPolicies: federationPolicies.map(toFederationPolicy),
      delegationPolicies: delegationPolicies.map(toDelegationPolicy),
    };
  }
}

/** The audit entry and the announcement that ride with every change. */
async function committed(tx: Transaction, audit: AuditEntry): Promise<void> {
  await tx.auditEvent.create({ data: auditEventData(audit) });
  await announceChange(tx, { kind: "federation" });
}

function revisionOf(change: GuardedResourceChange): { revision?: number } {
  return change.expectedRevision !== undefined ? { revision: change.expectedRevision } : {};
}

function bumped() {
  return { revision: { increment: 1 }, updateTime: new Date() };
}

/**
 * Optimistic concurrency (AIP-154): bumps the revision only if it is still the one the caller
 * saw, which also locks the row until the transaction ends.
 */
async function claim(
  change: GuardedResourceChange,
  noun: string,
  update: () => Promise<{ count: number }>,
  count: () => Promise<number>,
): Promise<void> {
  if ((await update()).count === 1) return;
  if ((await count()) === 0) throw new TesseraError("not_found", `${noun} ${change.id} not found`);
  throw new TesseraError("aborted", `${noun} ${change.id} was changed by someone else; read it again and retry with the new etag`);
}

/** The issuer and the client a federation policy names must exist; they stay locked until commit. */
async function checkReferences(tx: Transaction, definition: FederationPolicyDefinition): Promise<void> {
  const issuer = await tx.$queryRaw<unknown[]>`SELECT 1 FROM "trusted_issuers" WHERE "issuer" = ${definition.issuer} FOR SHARE`;
  if (issuer.length === 0) {
    throw new TesseraError("failed_precondition", `issuer ${definition.issuer} is not a trusted issuer; create it first`);
  }
  await checkClient(tx, definition.clientId);
}

async function checkClient(tx: Transaction, clientId: string): Promise<void> {
  const client = await tx.$queryRaw<unknown[]>`SELECT 1 FROM "clients" WHERE "id" = ${clientId} FOR SHARE`;
  if (client.length === 0) throw new TesseraError("not_found", `client ${clientId} not found`);
}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002";
}

function json(value: JsonObject | null): Prisma.InputJsonObject | typeof Prisma.DbNull {
  return value === null ? Prisma.DbNull : (value as Prisma.InputJsonObject);
}

function issuerData(definition: TrustedIssuerDefinition) {
  const source = definition.keySource;
  return {
    issuer: definition.issuer,
    description: definition.description,
    keySource: source.kind,
    jwksUri: source.kind === "jwks_uri" ? source.jwksUri : null,
    jwks: json(source.kind === "jwks" ? source.jwks : null),
    spiffeTrustDomain: source.kind === "spiffe" ? source.trustDomain : null,
    spiffeBundleEndpoint: source.kind === "spiffe" ? source.bundleEndpoint : null,
    spiffeBundle: json(source.kind === "spiffe" ? source.bundle : null),
    audiences: [...definition.audiences],
    allowedAlgorithms: [...definition.allowedAlgorithms],
    maxTokenLifetimeSeconds: definition.maxTokenLifetimeSeconds,
    maxTokenAgeSeconds: definition.maxTokenAgeSeconds,
    clockToleranceSeconds: definition.clockToleranceSeconds,
    singleUse: definition.singleUse,
    annotations: { ...definition.annotations },
  };
}

function federationData(definition: FederationPolicyDefinition) {
  return {
    issuer: definition.issuer,
    clientId: definition.clientId,
    subject: definition.subject,
    claimConditions: definition.claimConditions.map((condition) => ({ claim: condition.claim, operator: condition.operator, values: [...condition.values] })),
    copiedClaims: [...definition.copiedClaims],
    description: definition.description,
    annotations: { ...definition.annotations },
  };
}

function delegationData(definition: DelegationPolicyDefinition) {
  return {
    clientId: definition.clientId,
    subjectAudiences: [...definition.subjectAudiences],
    audiences: [...definition.audiences],
    scopes: [...definition.scopes],
    allowImpersonation: definition.allowImpersonation,
    description: definition.description,
    annotations: { ...definition.annotations },
  };
}

function toKeySource(row: IssuerRow): IssuerKeySource {
  switch (row.keySource) {
    case "jwks_uri":
      return { kind: "jwks_uri", jwksUri: row.jwksUri ?? "" };
    case "jwks":
      return { kind: "jwks", jwks: asJsonObject(row.jwks) };
    case "spiffe":
      return {
        kind: "spiffe",
        trustDomain: row.spiffeTrustDomain ?? "",
        bundleEndpoint: row.spiffeBundleEndpoint,
        bundle: row.spiffeBundle === null ? null : asJsonObject(row.spiffeBundle),
      };
    default:
      return { kind: "discovery" };
  }
}

function toTrustedIssuer(row: IssuerRow): TrustedIssuer {
  return {
    issuer: row.issuer,
    description: row.description,
    keySource: toKeySource(row),
    audiences: row.audiences,
    allowedAlgorithms: row.allowedAlgorithms,
    maxTokenLifetimeSeconds: row.maxTokenLifetimeSeconds,
    maxTokenAgeSeconds: row.maxTokenAgeSeconds,
    clockToleranceSeconds: row.clockToleranceSeconds,
    singleUse: row.singleUse,
    annotations: annotationsOf(row.annotations),
    revision: row.revision,
    createTime: row.createTime,
    updateTime: row.updateTime,
  };
}

const OPERATORS: ReadonlySet<string> = new Set<ClaimConditionOperator>(["equals", "glob", "one_of"]);

function toClaimConditions(value: Prisma.JsonValue): ClaimCondition[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item) => {
    const { claim, operator, values } = (item ?? {}) as { claim?: unknown; operator?: unknown; values?: unknown };
    if (typeof claim !== "string" || typeof operator !== "string" || !OPERATORS.has(operator) || !Array.isArray(values)) {
      // A row this code did not write: a condition that cannot be read must not vanish silently
      // (that would widen the policy), so it becomes one nothing satisfies.
      return [{ claim: typeof claim === "string" ? claim : "", operator: "one_of" as const, values: [] }];
    }
    return [{ claim, operator: operator as ClaimConditionOperator, values: values.filter((v): v is string => typeof v === "string") }];
  });
}

function toFederationPolicy(row: FederationRow): FederationPolicy {
  return {
    id: row.id,
    issuer: row.issuer,
    clientId: row.clientId,
    subject: row.subject,
    claimConditions: toClaimConditions(row.claimConditions),
    copiedClaims: row.copiedClaims,
    description: row.description,
    annotations: annotationsOf(row.annotations),
    revision: row.revision,
    createTime: row.createTime,
    updateTime: row.updateTime,
  };
}

function toDelegationPolicy(row: DelegationRow): DelegationPolicy {
  return {
    id: row.id,
    clientId: row.clientId,
    subjectAudiences: row.subjectAudiences,
    audiences: row.audiences,
    scopes: row.scopes,
    allowImpersonation: row.allowImpersonation,
    description: row.description,
    annotations: annotationsOf(row.annotations),
    revision: row.revision,
    createTime: row.createTime,
    updateTime: row.updateTime,
  };
}

function asJsonObject(value: Prisma.JsonValue): JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as JsonObject) : {};
}
