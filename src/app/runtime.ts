/**
 * The runtime around the wiring: bring the schema up to date, load memory, listen, start the
 * probes and the periodic work, and stop everything again in one fixed order.
 */
import { ADMIN_SCOPE } from "../clients/tessera-scopes.js";
import type { Config } from "../config/config.js";
import type { Logger } from "../log/logger.js";
import { isUsable } from "../oauth/client-authentication/client-authenticator.js";
import { applyMigrations } from "../store/migrations.js";
import { MIGRATIONS_DIR } from "../store/migrations-dir.js";
import { listen } from "../transport/listener.js";
import { AUDIT_MAINTENANCE_INTERVAL_MS, KEY_MAINTENANCE_INTERVAL_MS, REVOCATION_PURGE_INTERVAL_MS } from "./schedule.js";
import type { Wiring } from "./wiring.js";

/** What a first start without any way to administer it says, and how to get one. */
const NO_ADMIN_CLIENT_WARNING =
  "no client with the tessera:admin scope exists, so nobody can use the admin API. Either run `tessera admin bootstrap` " +
  "with this server's environment (it prints an admin client's secret once; on the embedded database stop the server first), " +
  "or set TESSERA_ADMIN_CLIENT_ID and TESSERA_ADMIN_CLIENT_SECRET (e.g. `openssl rand -hex 32`) and restart";

export interface RuntimeOptions {
  readonly log: Logger;
  readonly now: () => Date;
}

/** The server once it listens. */
export interface Running {
  readonly port: number;
  /** Runs a key maintenance pass now, or joins the one under way. */
  maintain(): Promise<void>;
  /** Runs the shutdown steps in order, once; later calls get the same promise. */
  close(): Promise<void>;
}

/** A piece of periodic work: its timer never keeps the process alive. */
interface PeriodicWork {
  readonly intervalMs: number;
  run(): void;
}

/** One step of the shutdown, run after the one before it has finished. */
interface ShutdownStep {
  readonly stops: string;
  run(): unknown;
}

export async function startRuntime(config: Config, wiring: Wiring, options: RuntimeOptions): Promise<Running> {
  const { log, now } = options;
  const { database, keyRing, keyManager, registry, revocations, refreshTokens, admin, sync, storageHealth, audit, denials, signer, health, replayGuard } = wiring;

  await migrateToLatest(wiring, log);
  // Before anything is audited at start-up (the bootstrap admin), so a new sink misses nothing.
  await wiring.eventDelivery.prepare();
  await loadMemory(config, wiring, options);

  const listener = await listen({
    handler: wiring.handler,
    streamHandler: wiring.streamHandler,
    host: config.host,
    port: config.port,
    tls: config.tls && { ...config.tls, clientCa: config.tlsClientCa },
    limits: config.connectionLimits,
    isTrustedProxy: wiring.isTrustedProxy,
    log,
  });
  storageHealth.onChange((healthy) => {
    wiring.setServing(healthy ? "SERVING" : "NOT_SERVING");
    // Announcements made while we could not hear them are lost: reload everything.
    if (healthy) void sync.resync();
  });
  wiring.setServing("SERVING");
  storageHealth.start();
  wiring.eventDelivery.start();
  log.info({ port: listener.port, issuer: config.issuer, storage: database.kind, tls: config.tls !== undefined }, "tessera listening");

  let maintaining: Promise<void> | undefined;
  const maintainKeys = () => {
    maintaining ??= keyManager
      .maintain(now())
      .catch((error: unknown) => log.warn({ err: error }, "signing key maintenance failed; retrying on the next pass"))
      .finally(() => (maintaining = undefined));
    return maintaining;
  };
  const periodicWork: readonly PeriodicWork[] = [
    {
      // Revocations outlive their tokens by nothing: purge them once the tokens have expired.
      // Refresh-token chains go once they have ended and their access tokens have expired too.
      intervalMs: REVOCATION_PURGE_INTERVAL_MS,
      run() {
        revocations.purge(now()).catch((error: unknown) => log.warn({ err: error }, "could not purge expired revocations"));
        refreshTokens.purge(now()).catch((error: unknown) => log.warn({ err: error }, "could not purge ended refresh-token chains"));
        // Used assertions are remembered only until they expire (a replay after that fails on exp).
        replayGuard.purge(now()).catch((error: unknown) => log.warn({ err: error }, "could not purge expired used assertions"));
      },
    },
    { intervalMs: KEY_MAINTENANCE_INTERVAL_MS, run: () => void maintainKeys() },
    {
      intervalMs: AUDIT_MAINTENANCE_INTERVAL_MS,
      run: () =>
        void (async () => {
          await denials.flush().catch((error: unknown) => log.warn({ err: error }, "could not audit counted admin refusals"));
          await audit
            .purgeAuditEvents(new Date(now().getTime() - config.auditRetentionSeconds * 1000))
            .catch((error: unknown) => log.warn({ err: error }, "could not purge audit events past their retention"));
        })(),
    },
  ];
  const timers = periodicWork.map((work) => setInterval(() => work.run(), work.intervalMs).unref());

  const shutdownOrder: readonly ShutdownStep[] = [
    { stops: "the storage probe", run: () => storageHealth.stop() },
    { stops: "the periodic work", run: () => timers.forEach((timer) => clearInterval(timer)) },
    { stops: "event delivery (the attempt under way ends; the lock is given up for another replica)", run: () => wiring.eventDelivery.stop() },
    { stops: "a key maintenance pass under way", run: () => maintaining },
    { stops: "the change feed", run: () => sync.stop() },
    { stops: "gRPC health watches (they end with OK)", run: () => health.shutdown() },
    { stops: "new connections; open ones drain until the shutdown timeout", run: () => listener.close(config.shutdownTimeoutMs) },
    { stops: "the signing worker", run: () => signer.close() },
    { stops: "audit entries of federated issuances still queued (written first)", run: () => wiring.federationAudit.idle() },
    { stops: "the database", run: () => database.close() },
  ];
  let closing: Promise<void> | undefined;
  return {
    port: listener.port,
    maintain: maintainKeys,
    close() {
      closing ??= (async () => {
        for (const step of shutdownOrder) await step.run();
        log.info("tessera stopped");
      })();
      return closing;
    },
  };
}

async function migrateToLatest(wiring: Wiring, log: Logger): Promise<void> {
  const session = await wiring.database.session();
  try {
    const { applied } = await applyMigrations(session, { migrationsDir: MIGRATIONS_DIR, log: (msg, fields) => log.info(fields ?? {}, msg) });
    if (applied.length > 0) log.info({ applied }, "applied database migrations");
  } finally {
    await session.release();
  }
}

/** Warms memory from the database, so the hot path never waits on it; ensures the bootstrap admin. */
async function loadMemory(config: Config, wiring: Wiring, options: RuntimeOptions): Promise<void> {
  const { log, now } = options;
  const { database, keyRing, keyManager, registry, revocations, admin, sync } = wiring;
  // Listen before the first load, so no change committed in between goes unheard.
  await sync.start();
  try {
    await keyRing.load();
    await keyManager.bootstrap(now());
    await registry.loadAll();
    await wiring.federation.load();
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
}
