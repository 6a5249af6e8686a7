/**
 * The wiring: storage → domain → transports, in that order, each part built from the ones above
 * it. Construction only — nothing here touches the database, loads state, listens or starts a
 * timer; `runtime.ts` does that with the parts returned here.
 */
import { createContextValues } from "@connectrpc/connect";
import { clientCertificateKey, originKey } from "../transport/connect/context.js";
import { ClientAdmin } from "../clients/client-admin.js";
import { ADMIN_SCOPE, CLIENTS_READ_SCOPE, INTROSPECT_SCOPE, REVOKE_SCOPE } from "../clients/tessera-scopes.js";
import { ClientRegistry } from "../clients/client-registry.js";
import type { Config } from "../config/config.js";
import { SIGNING_ALGORITHMS } from "../keys/algorithms.js";
import { KeyManager } from "../keys/key-manager.js";
import { Metrics } from "../observability/metrics.js";
import { AbuseLimits } from "../oauth/abuse-limits.js";
import { JwsSigner } from "../keys/jws-signer.js";
import { KeyRing } from "../keys/key-ring.js";
import type { KeyEncryptionKeys } from "../keys/key-encryption.js";
import type { Logger } from "../log/logger.js";
import { AccessTokenIssuer } from "../oauth/access-token-issuer.js";
import { AccessTokenVerifier } from "../oauth/access-token-verifier.js";
import { AssertionReplayCache } from "../oauth/client-authentication/assertion-replay-cache.js";
import { AssertionReplayGuard } from "../oauth/client-authentication/assertion-replay-guard.js";
import { IssuerKeyCache } from "../federation/issuer-key-cache.js";
import { outboundJsonFetcher } from "../federation/outbound-fetch.js";
import { PrismaUsedAssertionRepository } from "../store/used-assertion-store.js";
import { ASSERTION_ALGORITHMS } from "../oauth/client-authentication/private-key-jwt.js";
import { ClientAuthenticator } from "../oauth/client-authentication/client-authenticator.js";
import { clientCredentialsGrant } from "../oauth/grants/client-credentials-grant.js";
import { jwtBearerGrant } from "../oauth/grants/jwt-bearer-grant.js";
import { federatedSubjectTokenHandler } from "../oauth/grants/federated-subject-token.js";
import { tokenExchangeGrant, type SubjectTokenHandler } from "../oauth/grants/token-exchange-grant.js";
import { FederatedClientAuthenticator, FederatedClients } from "../oauth/federated-clients.js";
import { FederatedAssertionVerifier } from "../federation/federated-assertion.js";
import { AuditQueue } from "../audit/audit-queue.js";
import { federationObserver } from "../observability/federation-observer.js";
import { refreshTokenGrant } from "../oauth/grants/refresh-token-grant.js";
import { delegatedSubjectTokenHandler } from "../oauth/grants/delegated-subject-token.js";
import { RefreshTokens } from "../oauth/refresh-tokens.js";
import { PrismaRefreshTokenRepository } from "../store/refresh-token-store.js";
import { RevocationList } from "../oauth/revocation-list.js";
import { TokenEndpoint } from "../oauth/token/token-endpoint.js";
import { TokenIntrospection } from "../oauth/token-introspection.js";
import { PrismaRevocationRepository } from "../store/revocation-store.js";
import { databaseChangeSource } from "../store/change-listener.js";
import { databaseReadinessChecks, probeDatabase } from "../store/database-probes.js";
import { guardStorage } from "../store/storage-errors.js";
import { StorageHealth } from "../sync/storage-health.js";
import { ReplicaSync } from "../sync/replica-sync.js";
import { PrismaAuditLog } from "../store/audit-store.js";
import { DenialAudit } from "../audit/denial-throttle.js";
import { EventDelivery, type EventSink } from "../audit/event-delivery.js";
import { stdoutSink } from "../events/stdout-sink.js";
import { webhookSink } from "../events/webhook-sink.js";
import { PrismaEventOutbox } from "../store/event-outbox-store.js";
import { PrismaClientRepository } from "../store/client-store.js";
import { PrismaFederationRepository } from "../store/federation-store.js";
import { FederationAdmin } from "../federation/federation-admin.js";
import { FederationRegistry } from "../federation/federation-registry.js";
import type { FederationDirectory } from "../federation/federation.js";
import type { Database } from "../store/database.js";
import { PrismaSigningKeyRepository } from "../store/signing-key-store.js";
import { clientAdminServiceImpl, CLIENT_ADMIN_SCOPES } from "../transport/connect/client-admin-service.js";
import { federationServiceImpl, FEDERATION_SCOPES } from "../transport/connect/federation-service.js";
import { eventDeliveryServiceImpl, EVENT_DELIVERY_SCOPES } from "../transport/connect/event-delivery-service.js";
import { HealthStatus, healthServiceImpl, type HealthState } from "../transport/connect/health-service.js";
import { bearerAuthorizationInterceptor, loggingInterceptor } from "../transport/connect/interceptors.js";
import { rpcRequestHandler, rpcService } from "../transport/connect/rpc-handler.js";
import { introspectionServiceImpl } from "../transport/connect/introspection-service.js";
import { reflectionServiceImpls } from "../transport/connect/reflection-service.js";
import { tokenServiceImpl } from "../transport/connect/token-service.js";
import { createHttpGateway, type Readiness } from "../transport/http/gateway.js";
import { endpointUrl, renderMetadata, TOKEN_PATH } from "../transport/http/metadata.js";
import type { RequestHandler, StreamHandler } from "../transport/listener.js";
import { oneOriginRouter } from "../transport/router.js";
import { clientAddressResolver, trustedProxyMatcher } from "../transport/client-address.js";
import { clientCertificateResolver } from "../transport/client-certificate.js";
import { certificateBoundTokens } from "../oauth/mtls/certificate-bound-tokens.js";
import { ClientAdminService, file_tessera_v1_client_admin_service } from "../gen/tessera/v1/client_admin_service_pb.js";
import { FederationService, file_tessera_v1_federation_service } from "../gen/tessera/v1/federation_service_pb.js";
import { EventDeliveryService, file_tessera_v1_event_delivery_service } from "../gen/tessera/v1/event_delivery_service_pb.js";
import { IntrospectionService, file_tessera_v1_introspection_service } from "../gen/tessera/v1/introspection_service_pb.js";
import { TokenService, file_tessera_v1_token_service } from "../gen/tessera/v1/token_service_pb.js";
import { file_tessera_v1_oauth_error } from "../gen/tessera/v1/oauth_error_pb.js";
import { Health, file_grpc_health_v1_health } from "../gen/grpc/health/v1/health_pb.js";
import { DPOP_SIGNING_ALGORITHMS, DpopNonces } from "../keys/dpop-proof.js";
import { DpopProofChecker } from "../oauth/dpop/dpop-proof-checker.js";
import { dpopExtension } from "../oauth/dpop/dpop-extension.js";
import { keyPolicy, RESYNC_INTERVAL_MS, STORAGE_PROBE_INTERVAL_MS } from "./schedule.js";

export interface WiringOptions {
  readonly log: Logger;
  readonly now: () => Date;
  readonly keks: KeyEncryptionKeys;
  readonly database: Database;
}

/** The parts the runtime starts, loads, schedules and stops. */
export interface Wiring {
  readonly database: Database;
  readonly keyRing: KeyRing;
  readonly keyManager: KeyManager;
  readonly registry: ClientRegistry;
  readonly revocations: RevocationList;
  readonly refreshTokens: RefreshTokens;
  readonly admin: ClientAdmin;
  /** Trusted issuers and federation/delegation policies in memory; the runtime loads it. */
  readonly federation: FederationRegistry;
  /** What the token path reads of federation (the same object as `federation`). */
  readonly federationDirectory: FederationDirectory;
  readonly federationAdmin: FederationAdmin;
  readonly sync: ReplicaSync;
  readonly storageHealth: StorageHealth;
  readonly audit: PrismaAuditLog;
  readonly denials: DenialAudit;
  /** Delivers the audit trail to the configured sinks; the runtime prepares, starts and stops it. */
  readonly eventDelivery: EventDelivery;
  /** Audit entries of federated issuances, written off the request path. */
  readonly federationAudit: AuditQueue;
  readonly signer: JwsSigner;
  /** Trusted issuers' (and jwks_uri clients') verification keys, fetched and cached. */
  readonly issuerKeys: IssuerKeyCache;
  /** Refuses a second use of an assertion on every replica; its expired records are purged by the runtime. */
  readonly replayGuard: AssertionReplayGuard;
  /** The gRPC health statuses; `setServing` sets the server's and every service's at once. */
  readonly health: HealthStatus;
  setServing(state: HealthState): void;
  /** One handler for the one port: RPC methods and the HTTP gateway. */
  readonly handler: RequestHandler;
  /** Takes plain gRPC unary calls off HTTP/2 streams before the request handler (lean-grpc/). */
  readonly streamHandler: StreamHandler;
  readonly isTrustedProxy: (address: string) => boolean;
}

export function wireApp(config: Config, options: WiringOptions): Wiring {
  const { log, now, keks, database } = options;

  // Storage.
  // Every repository turns an unreachable database into `unavailable` (UNAVAILABLE / 503).
  const clientRepository = guardStorage(new PrismaClientRepository(database.prisma));
  const keyRepository = guardStorage(new PrismaSigningKeyRepository(database.prisma));
  const sinks = eventSinks(config, now);
  const audit = guardStorage(new PrismaAuditLog(database.prisma, { deliverySinks: sinks.map((sink) => sink.name) }));
  const storageHealth = new StorageHealth({
    probe: () => probeDatabase(database),
    intervalMs: STORAGE_PROBE_INTERVAL_MS,
    degradedWindowMs: config.degradedWindowSeconds * 1000,
    now,
    log,
  });

  // Domain, kept in memory (the runtime loads it): the hot path never waits on the database.
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
  const federationRepository = guardStorage(new PrismaFederationRepository(database.prisma));
  const federation = new FederationRegistry({ repository: federationRepository });
  const revocations = new RevocationList(guardStorage(new PrismaRevocationRepository(database.prisma)));
  const sync = new ReplicaSync({
    source: databaseChangeSource(database),
    registry,
    federation,
    revocations,
    keyRing,
    now,
    resyncIntervalMs: RESYNC_INTERVAL_MS,
    log,
  });
  const admin = new ClientAdmin({ repository: clientRepository, registry, maxTokenLifetimeSeconds: config.maxTokenLifetimeSeconds, now });
  const federationAdmin = new FederationAdmin({ repository: federationRepository, registry: federation });
  const denials = new DenialAudit({ audit, now: () => now().getTime() });

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
  let eventDelivery: EventDelivery | undefined;
  const metrics = new Metrics({
    clients: () => registry.size,
    // Unknown ids are no longer remembered (the registry answers them from memory).
    revocations: () => revocations.size,
    signingKeys: () => keyRing.keys().length,
    syncLagSeconds: () => (sync.lastResync ? (now().getTime() - sync.lastResync.getTime()) / 1000 : -1),
    databaseUp: () => storageHealth.isHealthy,
    eventSinks: () =>
      (eventDelivery?.lastStatus ?? []).map((status) => ({
        sink: status.name,
        backlog: status.backlog,
        oldestUndeliveredSeconds: status.nextEvent ? Math.max(0, (now().getTime() - status.nextEvent.time.getTime()) / 1000) : 0,
        deadLettered: status.deadTime ? 1 : 0,
      })),
  });
  eventDelivery = new EventDelivery({
    outbox: guardStorage(new PrismaEventOutbox(database)),
    sinks,
    source: config.issuer,
    now,
    observer: {
      delivered: (sink) => metrics.eventDelivered(sink),
      failed: (sink, error, willRetryAt) => {
        metrics.eventDeliveryFailed(sink);
        log.warn({ sink, error, retryAt: willRetryAt?.toISOString() }, "could not deliver an audit event; retrying with backoff");
      },
      deadLettered: (sink, eventId, error) =>
        log.error({ sink, eventId, error }, "an audit event failed too often: the sink is paused on it until `tessera events redeliver`"),
      // During a database outage every pass fails; the storage probe already reports that.
      loopFailed: (error) => {
        if (storageHealth.isHealthy) log.warn({ err: error }, "event delivery pass failed; retrying on the next one");
      },
    },
  });
  // Outbound: every fetch of published keys goes through the one hardened fetcher.
  const issuerKeys = new IssuerKeyCache({
    fetchJson: outboundJsonFetcher({ allowHttp: config.federation.allowHttp }),
    now,
    policy: { maxStalenessSeconds: config.federation.jwksMaxStalenessSeconds },
    onFetch: (source, outcome) => metrics.keyFetch(source, outcome),
    onFetchFailure: (failure) => log.warn(failure, "could not fetch published keys; the keys held (if any) serve until their stale window ends"),
  });
  const replayCache = new AssertionReplayCache();
  const replayGuard = new AssertionReplayGuard({
    repository: guardStorage(new PrismaUsedAssertionRepository(database)),
    memory: replayCache,
    now,
    storageHealthy: () => storageHealth.isHealthy,
    onStorageUnavailable: () => log.warn("could not record a used assertion (database unavailable); replays are refused per replica only meanwhile"),
  });
  const limits = new AbuseLimits(config.abuseLimits, { now: () => now().getTime(), onLimited: (limit) => metrics.rateLimit(limit) });

  // Workload identity federation: external assertions verified against trusted issuers' keys,
  // matched to clients through federation policies; outcomes counted, issuances audited off
  // the request path.
  const federationAudit = new AuditQueue({ audit, onError: (error) => log.error({ err: error }, "an audit entry of a federated issuance was not written") });
  const federatedClients = new FederatedClients({
    verifier: new FederatedAssertionVerifier({
      directory: federation,
      keys: issuerKeys,
      replayGuard,
      tesseraIssuer: config.issuer,
      now,
    }),
    directory: federation,
    registry,
    now,
    observer: federationObserver({ metrics, audit: federationAudit }),
  });
  const federatedIssuance = { clients: federatedClients, scopePolicy: config.scopePolicy, limits };

  const authenticator = new ClientAuthenticator({
    registry,
    now,
    assertionAudience: config.issuer,
    legacyAssertionAudiences: config.legacyAssertionAudienceUntil && {
      audiences: [endpointUrl(config.issuer, TOKEN_PATH)],
      until: config.legacyAssertionAudienceUntil,
    },
    replayCache,
    replayGuard,
    clientKeysByUrl: issuerKeys,
    federation: new FederatedClientAuthenticator(federatedClients, federation),
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
  // RFC 9449: proofs remembered on every replica; nonces (when required) an HMAC every replica
  // derives from the KEK, so any replica accepts another's.
  const dpop = new DpopProofChecker({
    replayGuard,
    nonces: config.dpopNonce ? new DpopNonces(keks.current.derive("dpop-nonce")) : undefined,
    now,
  });
  const introspection = new TokenIntrospection({
    dpop,
    issuer: config.issuer,
    verifier,
    authenticator,
    revocations,
    refreshTokens,
    availability: storageHealth,
    limits,
  });
  const delegation = delegatedSubjectTokenHandler({
    verifier,
    directory: federation,
    maxDelegationDepth: config.maxDelegationDepth,
    now,
    // Audited off the request path, as federated issuances are, so they reach the event sinks.
    onExchanged: (exchange) =>
      federationAudit.enqueue({
        actor: exchange.clientId,
        action: "delegation.token_exchanged",
        targetClientId: exchange.clientId,
        outcome: "success",
        details: {
          subject: exchange.subject,
          subjectClientId: exchange.subjectClientId,
          audiences: [...exchange.audiences],
          scopes: [...exchange.scopes],
          impersonated: exchange.impersonated,
          depth: exchange.depth,
          jti: exchange.jti,
        },
      }),
  });
  // RFC 8693: one grant, one handler per kind of subject token.
  const subjectTokenHandlers: SubjectTokenHandler[] = [federatedSubjectTokenHandler(federatedIssuance), delegation];
  // Client certificates arrive when Tessera asks for them in its TLS handshake or a trusted
  // proxy passes them; only certificates chaining to TESSERA_TLS_CLIENT_CA serve tls_client_auth.
  const certificatesArrive = (config.tls !== undefined && config.tlsClientCa !== undefined) || config.clientCertHeader !== undefined;
  const tokenEndpoint = new TokenEndpoint({
    authenticator,
    issuer,
    availability: storageHealth,
    grants: [
      clientCredentialsGrant({ scopePolicy: config.scopePolicy, refreshTokens }),
      refreshTokenGrant({ refreshTokens }),
      jwtBearerGrant(federatedIssuance),
      tokenExchangeGrant({ handlers: subjectTokenHandlers }),
    ],
    // RFC 9449 DPoP; RFC 8705 §3 only when certificates can arrive.
    extensions: [dpopExtension({ checker: dpop }), ...(certificatesArrive ? [certificateBoundTokens()] : [])],
    onIssued: (answer) => metrics.tokenIssued(answer.clientId, answer.alg, answer.grantType),
  });

  // Transports.
  const originOf = clientAddressResolver(config.trustedProxies);
  const certificateOf = clientCertificateResolver({
    clientCa: config.tlsClientCa,
    trustedProxies: config.trustedProxies,
    header: config.clientCertHeader,
    now,
    warn: (details, message) => log.warn(details, message),
  });
  const authMethods = authenticator.methods.filter((method) =>
    method === "tls_client_auth" ? certificatesArrive && config.tlsClientCa !== undefined : method === "self_signed_tls_client_auth" ? certificatesArrive : true,
  );
  const health = new HealthStatus();
  const setServing = (state: HealthState) => {
    health.set("", state);
    for (const service of [TokenService, IntrospectionService, ClientAdminService, FederationService, EventDeliveryService]) health.set(service.typeName, state);
  };
  const readiness: Readiness = {
    async check() {
      const checks = await databaseReadinessChecks(database);
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
      authMethods,
      certificateBoundTokens: certificatesArrive,
      assertionAlgorithms: ASSERTION_ALGORITHMS,
      dpopAlgorithms: DPOP_SIGNING_ALGORITHMS,
      scopes: [ADMIN_SCOPE, CLIENTS_READ_SCOPE, INTROSPECT_SCOPE, REVOKE_SCOPE],
    }),
    issuerPath: new URL(config.issuer).pathname,
    jwksMaxAgeSeconds: config.jwksMaxAgeSeconds,
    readiness,
    metrics,
    log,
    originOf,
    certificateOf,
  });
  const reflection = reflectionServiceImpls({
    files: [
      file_tessera_v1_token_service,
      file_tessera_v1_introspection_service,
      file_tessera_v1_client_admin_service,
      file_tessera_v1_federation_service,
      file_tessera_v1_event_delivery_service,
      file_tessera_v1_oauth_error,
      file_grpc_health_v1_health,
    ],
  });
  const rpc = rpcRequestHandler({
    services: [
      rpcService(TokenService, tokenServiceImpl({ endpoint: tokenEndpoint, issuer: config.issuer })),
      rpcService(IntrospectionService, introspectionServiceImpl({ introspection, issuer: config.issuer, now })),
      rpcService(ClientAdminService, clientAdminServiceImpl({ admin, keyRing, keyManager, defaultAlgorithm: config.defaultAlgorithm, now })),
      rpcService(FederationService, federationServiceImpl({ admin: federationAdmin })),
      rpcService(EventDeliveryService, eventDeliveryServiceImpl({ delivery: eventDelivery })),
      rpcService(Health, healthServiceImpl(health)),
      ...reflection.map(([service, impl]) => rpcService(service, impl)),
    ],
    // The caller's address travels with each call, for rate limits and the lockout.
    // The peer's address and TLS client certificate travel with each call: the handler context
    // does not expose the connection.
    contextValues: (request) =>
      createContextValues().set(originKey, originOf(request)).set(clientCertificateKey, certificateOf(request)),
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
      bearerAuthorizationInterceptor({
        serviceTypeName: FederationService.typeName,
        rules: FEDERATION_SCOPES,
        verifier,
        audience: config.issuer,
        denials,
        limitRefusals: (origin) => limits.beforeAuthentication(origin, undefined),
        log,
      }),
      bearerAuthorizationInterceptor({
        serviceTypeName: EventDeliveryService.typeName,
        rules: EVENT_DELIVERY_SCOPES,
        verifier,
        audience: config.issuer,
        denials,
        limitRefusals: (origin) => limits.beforeAuthentication(origin, undefined),
        log,
      }),
    ],
  });

  return {
    database,
    keyRing,
    keyManager,
    registry,
    revocations,
    refreshTokens,
    admin,
    federation,
    federationDirectory: federation,
    federationAdmin,
    sync,
    storageHealth,
    audit,
    denials,
    eventDelivery,
    federationAudit,
    signer,
    issuerKeys,
    replayGuard,
    health,
    setServing,
    handler: oneOriginRouter({ rpc, gateway }),
    streamHandler: rpc.serveStream,
    isTrustedProxy: trustedProxyMatcher(config.trustedProxies),
  };
}

/** The configured event sinks, in delivery order. */
function eventSinks(config: Config, now: () => Date): EventSink[] {
  const sinks: EventSink[] = [];
  const { webhook, stdout } = config.events;
  if (webhook) {
    sinks.push(
      webhookSink({
        url: webhook.url,
        key: webhook.key,
        maxAttempts: webhook.maxAttempts,
        connectTimeoutMs: Math.min(5_000, webhook.timeoutMs),
        totalTimeoutMs: webhook.timeoutMs,
        nowSeconds: () => now().getTime() / 1000,
      }),
    );
  }
  if (stdout) sinks.push(stdoutSink());
  return sinks;
}
