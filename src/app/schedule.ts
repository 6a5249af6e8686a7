/**
 * How often the server's periodic work runs, and the signing-key policy that follows from it.
 * Read by the wiring (intervals handed to constructors) and the runtime (the timers it starts).
 */
import type { Config } from "../config/config.js";
import type { KeyPolicy } from "../keys/key-lifecycle.js";

/** How often each replica moves keys along their lifecycle and reloads keys changed elsewhere. */
export const KEY_MAINTENANCE_INTERVAL_MS = 10_000;
export const REVOCATION_PURGE_INTERVAL_MS = 10 * 60_000;
/** How often counted admin refusals are written and audit events past their retention purged. */
export const AUDIT_MAINTENANCE_INTERVAL_MS = 60_000;
/**
 * The safety net under LISTEN/NOTIFY: compare every client's version with memory and re-read
 * the ones that differ; reload revocations and keys.
 */
export const RESYNC_INTERVAL_MS = 60_000;
/** How often the database is probed for health checks and the degraded-mode window. */
export const STORAGE_PROBE_INTERVAL_MS = 2_000;

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
