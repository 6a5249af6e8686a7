/**
 * The composition root: storage → domain → transports. The only module that sees every room,
 * and the only place dependencies are constructed.
 */
import { createContextValues } from "@connectrpc/connect";
import { originKey } from "./transport/connect/context.js";
import { ClientAdmin } from "./clients/client-admin.js";
import { ADMIN_SCOPE, CLIENTS_READ_SCOPE, INTROSPECT_SCOPE, REVOKE_SCOPE } from "./clients/tessera-scopes.js";
import { ClientRegistry } from "./clients/client-registry.js";
import type { Config } from "./config/config.js";
import { SIGNING_ALGORITHMS } from "./keys/algorithms.js";
import { KeyManager } from "./keys/key-manager.js";
import { Metrics } from "./observability/metrics.js";
import { AbuseLimits } from "./oauth/abuse-limits.js";
import { JwsSigner } from "./keys/jws-signer.js";
import { KeyRing } from "./keys/key-ring.js";
import type { KeyPolicy } from "./keys/key-lifecycle.js";
import { resolveKeyEncryptionKeys } from "./keys/key-encryption.js";
import type { Logger } from "./log/logger.js";
import { AccessTokenIssuer } from "./oauth/access-token-issuer.js";
import { AccessTokenVerifier } from "./oauth/access-token-verifier.js";
import { AssertionReplayCache } from "./oauth/client-authentication/assertion-replay-cache.js";
import { ASSERTION_ALGORITHMS } from "./oauth/client-authentication/private-key-jwt.js";
import { ClientAuthenticator, isUsable } from "./oauth/client-authentication/client-authenticator.js";
import { clientCredentialsGrant } from "./oauth/grants/client-credentials-grant.js";
import { refreshTokenGrant } from "./oauth/grants/refresh-token-grant.js";
import { RefreshTokens } from "./oauth/refresh-tokens.js";
import { PrismaRefreshTokenRepository } from "./store/refresh-token-store.js";
import { RevocationList } from "./oauth/revocation-list.js";
import { TokenEndpoint } from "./oauth/token/token-endpoint.js";
import { TokenIntrospection } from "./oauth/token-introspection.js";
import { PrismaRevocationRepository } from "./store/revocation-store.js";
import { databaseChangeSource } from "./store/change-listener.js";
import { guardStorage } from "./store/storage-errors.js";
import { StorageHealth } from "./sync/storage-health.js";
import { ReplicaSync } from "./sync/replica-sync.js";
import { PrismaAuditLog } from "./store/audit-store.js";
import { DenialAudit } from "./audit/denial-throttle.js";
import { PrismaClientRepository } from "./store/client-store.js";
import { openDatabase, type Database } from "./store/database.js";
import { applyMigrations, pendingMigrations } from "./store/migrations.js";
import { MIGRATIONS_DIR } from "./store/migrations-dir.js";
import { PrismaSigningKeyRepository } from "./store/signing-key-store.js";
import { clientAdminServiceImpl, CLIENT_ADMIN_SCOPES } from "./transport/connect/client-admin-service.js";
import { HealthStatus, healthServiceImpl } from "./transport/connect/health-service.js";
import { bearerAuthorizationInterceptor, loggingInterceptor } from "./transport/connect/interceptors.js";
import { rpcRequestHandler, rpcService } from "./transport/connect/rpc-handler.js";
import { introspectionServiceImpl } from "./transport/connect/introspection-service.js";
import { reflectionServiceImpls } from "./transport/connect/reflection-service.js";
import { tokenServiceImpl } from "./transport/connect/token-service.js";
import { createHttpGateway, type Readiness } from "./transport/http/gateway.js";
import { endpointUrl, renderMetadata, TOKEN_PATH } from "./transport/http/metadata.js";
import { listen } from "./transport/listener.js";
import { oneOriginRouter } from "./transport/router.js";
import { clientAddressResolver, trustedProxyMatcher } from "./transport/client-address.js";
import { ClientAdminService, file_tessera_v1_client_admin_service } from "./gen/tessera/v1/client_admin_service_pb.js";
import { IntrospectionService, file_tessera_v1_introspection_service } from "./gen/tessera/v1/introspection_service_pb.js";
import { TokenService, file_tessera_v1_token_service } from "./gen/tessera/v1/token_service_pb.js";
import { file_tessera_v1_oauth_error } from "./gen/tessera/v1/oauth_error_pb.js";
import { Health, file_grpc_health_v1_health } from "./gen/grpc/health/v1/health_pb.js";

/** How often each replica moves keys along their lifecycle and reloads keys changed elsewhere. */
const KEY_MAINTENANCE_INTERVAL_MS = 10_000;
const REVOCATION_PURGE_INTERVAL_MS = 10 * 60_000;
/** How often counted admin refusals are written and audit events past their retention purged. */
const AUDIT_MAINTENANCE_INTERVAL_MS = 60_000;
/**
 * The safety net under LISTEN/NOTIFY: compare every client's version with memory and re-read
 * the ones that differ; reload revocations and keys.
 */
const RESYNC_INTERVAL_MS = 60_000;
/** How often the database is probed for health checks and the degraded-mode window. */
const STORAGE_PROBE_INTERVAL_MS = 2_000;
/** What a first start without any way to administer it says, and how to get one. */
const NO_ADMIN_CLIENT_WARNING =
  "no client with the tessera:admin scope exists, so nobody can use the admin API. Either run `tessera admin bootstrap` " +
  "with this server's environment (it prints an admin client's secret once; on the embedded database stop the server first), " +
  "or set TESSERA_ADMIN_CLIENT_ID and TESSERA_ADMIN_CLIENT_SECRET (e.g. `openssl rand -hex 32`) and restart";

/**
 * Added to how long a retired signing key stays published: a resource server whose clock runs
 * behind ours by up to this much still finds the key of a token that has not expired for it.
 */
const KEY_RETENTION_CLOCK_SKEW_SECONDS = 60;

/**
 * A key is published two JWKS cache periods (plus a maintenance pass) before it signs, so every
 * verifier honouring Cache-Control has fetched it; it stays published for the longest token
 * lifetime after it stops signing.
 */
export function keyPolicy(config: Config): KeyPolicy {
  return {
    rotationIntervalSeconds: config.keyRotationIntervalSeconds,
    publicationLeadSeconds: 2 * config.jwksMaxAgeSeconds + KEY_MAINTENANCE_INTERVAL_MS / 1000,
    retentionSeconds: config.maxTokenLifetimeSeconds + KEY_RETENTION_CLOCK_SKEW_SECONDS,
  };
}

export interface App {
  readonly port: number;
  readonly config: Config;
  /** Runs the periodic work now (key lifecycle, key reload); the timers do the same on their own. */
  maintain(): Promise<void>;
  /** Graceful stop: refuse new work, drain, close storage. */
  close(): Promise<void>;
}

export interface AppOptions {
  readonly log: Logger;
  readonly now?: () => Date;
}

export async function startApp(config: Config, options: AppOptions): Promise<App> {
  const { log } = options;
  const now = options.now ?? (() => new Date());

  const keks = resolveKeyEncryptionKeys({
    kek: config.kek,
    kekPrevious: config.kekPrevious,
    embedded: config.storage.kind === "embedded",
    dataDir: config.dataDir,
    log,
  });

  const database = await openDatabase(config.storage);
  try {
    return await assemble(config, { log, now, keks, database });
  } catch (error) {
    await database.close().catch(() => {});
    throw error;
  }
}

async function assemble(
  config: Config,
  deps: { log: Logger; now: () => Date; keks: ReturnType<typeof resolveKeyEncryptionKeys>; database: Database },
): Promise<App> {
  const { log, now, keks, database } = deps;

  const session = await database.session();
  try {
    const { applied } = await applyMigrations(session, { migrationsDir: MIGRATIONS_DIR, log: (msg, fields) => log.info(fields ?? {}, msg) });
    if (applied.length > 0) log.info({ applied }, "applied database migrations");
  } finally {
    await session.release();
  }

  // Storage.
  // Every repository turns an unreachable database into `unavailable` (UNAVAILABLE / 503).
  const clientRepository = guardStorage(new PrismaClientRepository(database.prisma));
  const keyRepository = guardStorage(new PrismaSigningKeyRepository(database.prisma));
  const audit = guardStorage(new PrismaAuditLog(database.prisma));

  // Domain, warmed into memory: the hot path never waits on the database.
  const keyRing = new KeyRing({ repository: keyRepository, keks, log });
  const keyManager = new KeyManager({
    repository: keyRepository,
    keyRing,
    keks,
    // Every algorithm has a key from the start, so a client can switch algorithms at any time.
    algorithms: SIGNING_ALGORITHMS,
    policy: keyPolicy(config),
    rsaModulusLength: config.rsaModulusLength,
    log,
  });
  const registry = new ClientRegistry({ repository: clientRepository });
  const revocations = new RevocationList(guardStorage(new PrismaRevocationRepository(database.prisma)));
  const sync = new ReplicaSync({
    source: databaseChangeSource(database),
    registry,
    revocations,
    keyRing,
    now,
    resyncIntervalMs: RESYNC_INTERVAL_MS,
    log,
  });
  // Listen before the first load, so no change committed in between goes unheard.
  await sync.start();
  const admin = new ClientAdmin({ repository: clientRepository, registry, maxTokenLifetimeSeconds: config.maxTokenLifetimeSeconds, now });
  try {
    await keyRing.load();
    await keyManager.bootstrap(now());
    await registry.loadAll();
    await revocations.load(now());
    sync.lastResync = now();
    if (config.admin) {
      await admin.ensureBootstrapAdmin({ ...config.admin, audience: config.issuer });
      log.info({ clientId: config.admin.clientId }, "bootstrap admin client ready");
    } else if (!registry.some((record) => record.client.allowedScopes.includes(ADMIN_SCOPE) && isUsable(record, now()))) {
      log.warn({ storage: database.kind }, NO_ADMIN_CLIENT_WARNING);
    }
  } catch (error) {
    await sync.stop();
    throw error;
  }

  // OAuth core.
  const signer = new JwsSigner({ onWorkerError: (error) => log.error({ err: error }, "the signing worker stopped; starting another") });
  const issuer = new AccessTokenIssuer({
    issuer: config.issuer,
    keyRing,
    signer,
    defaultAlgorithm: config.defaultAlgorithm,
    defaultLifetimeSeconds: config.tokenLifetimeSeconds,
    maxLifetimeSeconds: config.maxTokenLifetimeSeconds,
    now,
  });
  const verifier = new AccessTokenVerifier({ issuer: config.issuer, keyRing, registry, revocations, now });
  // Metrics are created before the OAuth core so limits can count refusals.
  const metrics = new Metrics({
    clients: () => registry.size,
    // Unknown ids are no longer remembered (the registry answers them from memory).
    revocations: () => revocations.size,
    signingKeys: () => keyRing.keys().length,
    syncLagSeconds: () => (sync.lastResync ? (now().getTime() - sync.lastResync.getTime()) / 1000 : -1),
    databaseUp: () => storageHealth.isHealthy,
  });
  const limits = new AbuseLimits(config.abuseLimits, { now: () => now().getTime(), onLimited: (limit) => metrics.rateLimit(limit) });
  const authenticator = new ClientAuthenticator({
    registry,
    now,
    assertionAudiences: [config.issuer, endpointUrl(config.issuer, TOKEN_PATH)],
    replayCache: new AssertionReplayCache(),
    limits,
  });
  const refreshTokens = new RefreshTokens({
    repository: guardStorage(new PrismaRefreshTokenRepository(database.prisma)),
    lifetimeSeconds: config.refreshTokenLifetimeSeconds,
    maxChainLifetimeSeconds: config.refreshTokenMaxChainLifetimeSeconds,
    // An access token issued with a chain's last refresh token lives at most this much longer.
    endedChainRetentionSeconds: config.maxTokenLifetimeSeconds,
    accessTokenRevocations: revocations,
    now,
  });
  const storageHealth = new StorageHealth({
    probe: async () => {
      const probe = await database.session();
      try {
        await probe.query("SELECT 1");
      } finally {
        await probe.release();
      }
    },
    intervalMs: STORAGE_PROBE_INTERVAL_MS,
    degradedWindowMs: config.degradedWindowSeconds * 1000,
    now,
    onChange: (healthy) => {
      servingStates(healthy ? "SERVING" : "NOT_SERVING");
      // Announcements made while we could not hear them are lost: reload everything.
      if (healthy) void sync.resync();
    },
    log,
  });
  const introspection = new TokenIntrospection({
    issuer: config.issuer,
    verifier,
    authenticator,
    revocations,
    refreshTokens,
    availability: storageHealth,
    limits,
  });
  const tokenEndpoint = new TokenEndpoint({
    authenticator,
    issuer,
    availability: storageHealth,
    grants: [clientCredentialsGrant({ scopePolicy: config.scopePolicy, refreshTokens }), refreshTokenGrant({ refreshTokens })],
    onIssued: (answer) => metrics.tokenIssued(answer.clientId, answer.alg, answer.grantType),
  });

  // Transports.
  const originOf = clientAddressResolver(config.trustedProxies);
  const health = new HealthStatus();
  const servingStates = (state: "SERVING" | "NOT_SERVING") => {
    health.set("", state);
    for (const service of [TokenService, IntrospectionService, ClientAdminService]) health.set(service.typeName, state);
  };
  const readiness: Readiness = {
    async check() {
      const checks: Record<string, string> = {};
      try {
        const probe = await database.session();
        try {
          const pending = await pendingMigrations(probe, MIGRATIONS_DIR);
          checks.database = "ok";
          checks.migrations = pending.length === 0 ? "ok" : `pending: ${pending.join(", ")}`;
        } finally {
          await probe.release();
        }
      } catch {
        checks.database = "unreachable";
      }
      return { ready: Object.values(checks).every((value) => value === "ok"), checks };
    },
  };
  const gateway = createHttpGateway({
    tokenEndpoint,
    introspection,
    issuer: config.issuer,
    now,
    keyRing,
    metadata: renderMetadata({
      issuer: config.issuer,
      grantTypes: tokenEndpoint.grantTypes,
      authMethods: authenticator.methods,
      assertionAlgorithms: ASSERTION_ALGORITHMS,
      scopes: [ADMIN_SCOPE, CLIENTS_READ_SCOPE, INTROSPECT_SCOPE, REVOKE_SCOPE],
    }),
    issuerPath: new URL(config.issuer).pathname,
    jwksMaxAgeSeconds: config.jwksMaxAgeSeconds,
    readiness,
    metrics,
    log,
    originOf,
  });
  const reflection = reflectionServiceImpls({
    files: [
      file_tessera_v1_token_service,
      file_tessera_v1_introspection_service,
      file_tessera_v1_client_admin_service,
      file_tessera_v1_oauth_error,
      file_grpc_health_v1_health,
    ],
  });
  const denials = new DenialAudit({ audit, now: () => now().getTime() });
  const rpc = rpcRequestHandler({
    services: [
      rpcService(TokenService, tokenServiceImpl({ endpoint: tokenEndpoint, issuer: config.issuer })),
      rpcService(IntrospectionService, introspectionServiceImpl({ introspection, issuer: config.issuer, now })),
      rpcService(ClientAdminService, clientAdminServiceImpl({ admin, keyRing, keyManager, defaultAlgorithm: config.defaultAlgorithm, now })),
      rpcService(Health, healthServiceImpl(health)),
      ...reflection.map(([service, impl]) => rpcService(service, impl)),
    ],
    // The caller's address travels with each call, for rate limits and the lockout.
    contextValues: (request) => createContextValues().set(originKey, originOf(request)),
    leanGrpc: config.leanGrpc,
    interceptors: [
      loggingInterceptor(log, metrics),
      bearerAuthorizationInterceptor({
        serviceTypeName: ClientAdminService.typeName,
        rules: CLIENT_ADMIN_SCOPES,
        verifier,
        audience: config.issuer,
        denials,
        // Refused admin calls spend the caller's per-address budget, as failed authentications do.
        limitRefusals: (origin) => limits.beforeAuthentication(origin, undefined),
        log,
      }),
    ],
  });
  const handler = oneOriginRouter({ rpc, gateway });

  const listener = await listen({
    handler,
    host: config.host,
    port: config.port,
    tls: config.tls,
    limits: config.connectionLimits,
    isTrustedProxy: trustedProxyMatcher(config.trustedProxies),
    log,
  });
  servingStates("SERVING");
  storageHealth.start();
  log.info({ port: listener.port, issuer: config.issuer, storage: database.kind, tls: config.tls !== undefined }, "tessera listening");

  // Revocations outlive their tokens by nothing: purge them once the tokens have expired.
  // Refresh-token chains go once they have ended and their access tokens have expired too.
  const purge = setInterval(() => {
    revocations.purge(now()).catch((error: unknown) => log.warn({ err: error }, "could not purge expired revocations"));
    refreshTokens.purge(now()).catch((error: unknown) => log.warn({ err: error }, "could not purge ended refresh-token chains"));
  }, REVOCATION_PURGE_INTERVAL_MS);
  purge.unref();
  let maintaining: Promise<void> | undefined;
  const maintainKeys = () => {
    maintaining ??= keyManager
      .maintain(now())
      .catch((error: unknown) => log.warn({ err: error }, "signing key maintenance failed; retrying on the next pass"))
      .finally(() => (maintaining = undefined));
    return maintaining;
  };
  const keyTimer = setInterval(maintainKeys, KEY_MAINTENANCE_INTERVAL_MS);
  keyTimer.unref();
  const maintainAudit = async () => {
    await denials.flush().catch((error: unknown) => log.warn({ err: error }, "could not audit counted admin refusals"));
    await audit
      .purgeAuditEvents(new Date(now().getTime() - config.auditRetentionSeconds * 1000))
      .catch((error: unknown) => log.warn({ err: error }, "could not purge audit events past their retention"));
  };
  const auditTimer = setInterval(() => void maintainAudit(), AUDIT_MAINTENANCE_INTERVAL_MS);
  auditTimer.unref();

  let closing: Promise<void> | undefined;
  return {
    port: listener.port,
    config,
    maintain: maintainKeys,
    close() {
      closing ??= (async () => {
        storageHealth.stop();
        clearInterval(purge);
        clearInterval(keyTimer);
        clearInterval(auditTimer);
        await maintaining;
        await sync.stop();
        health.shutdown();
        await listener.close(config.shutdownTimeoutMs);
        await signer.close();
        await database.close();
        log.info("tessera stopped");
      })();
      return closing;
    },
  };
}
