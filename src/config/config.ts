/**
 * Environment → typed, frozen configuration. This is the only module that reads process.env;
 * everything else receives a Config. Every bad value is reported at once, by variable name,
 * so an operator fixes a deployment in one pass.
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import path from "node:path";
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from "../keys/algorithms.js";
import type { AbuseLimitPolicy } from "../oauth/abuse-limits.js";
import { CLIENT_ID_PATTERN } from "../clients/client.js";
import { CHOSEN_SECRET_RULES, chosenSecretWeakness, estimateSecretBits } from "../clients/client-secret.js";
// The vocabulary of the rooms being configured is theirs; configuration only fills it in.
import type { LogLevel } from "../log/logger.js";
import type { ScopePolicy } from "../oauth/grants/client-credentials-grant.js";
import type { StorageConfig } from "../store/database.js";
import type { IpSubnet } from "../transport/client-address.js";
import type { ConnectionLimits, TlsConfig } from "../transport/listener.js";

export type { ConnectionLimits, IpSubnet, LogLevel, ScopePolicy, StorageConfig, TlsConfig };

export interface Config {
  readonly port: number;
  readonly host: string;
  /** The `iss` of tokens and the metadata `issuer`, exactly as configured (RFC 8414 §2). */
  readonly issuer: string;
  readonly storage: StorageConfig;
  /** Where the embedded database and the generated KEK file live. */
  readonly dataDir: string;
  /** Base64 of the 32-byte key-encryption key, if given directly or by file. */
  readonly kek: Buffer | undefined;
  readonly kekPrevious: Buffer | undefined;
  readonly tls: TlsConfig | undefined;
  readonly admin: { readonly clientId: string; readonly clientSecret: string } | undefined;
  readonly defaultAlgorithm: SigningAlgorithm;
  readonly rsaModulusLength: 2048 | 3072;
  readonly tokenLifetimeSeconds: number;
  readonly maxTokenLifetimeSeconds: number;
  readonly scopePolicy: ScopePolicy;
  /** The most exchanges a delegation chain may hold (RFC 8693 `act` nesting): C → A is one, A → B two. */
  readonly maxDelegationDepth: number;
  readonly abuseLimits: AbuseLimitPolicy;
  /** Proxies whose X-Forwarded-For is believed when deriving the caller's address; none by default. */
  readonly trustedProxies: readonly IpSubnet[];
  /**
   * TESSERA_TLS_CLIENT_CA: the CAs (PEM) whose client certificates `tls_client_auth` accepts
   * (RFC 8705 §2.1); with TLS on, client certificates are requested (not required).
   */
  readonly tlsClientCa: Buffer | undefined;
  /**
   * TESSERA_CLIENT_CERT_HEADER: the lower-case header in which a TLS-terminating proxy passes
   * the client certificate, believed only from TESSERA_TRUSTED_PROXIES; undefined: none.
   */
  readonly clientCertHeader: string | undefined;
  readonly connectionLimits: ConnectionLimits;
  /** How long tokens are still issued and verified from memory while the database is unreachable. */
  readonly degradedWindowSeconds: number;
  /** Lifetime of refresh tokens, for clients that opted in to them. */
  readonly refreshTokenLifetimeSeconds: number;
  /** How long a refresh-token chain may last from its first token, however often it is used. */
  readonly refreshTokenMaxChainLifetimeSeconds: number;
  /** How long a signing key signs before its successor takes over. */
  readonly keyRotationIntervalSeconds: number;
  /** Cache-Control max-age of /keys; new keys are published 2 × this before they sign. */
  readonly jwksMaxAgeSeconds: number;
  readonly logLevel: LogLevel;
  /** How long a graceful shutdown may drain before connections are cut. */
  readonly shutdownTimeoutMs: number;
  /** How long audit events are kept before they are purged. */
  readonly auditRetentionSeconds: number;
  /** Plain gRPC unary calls take Tessera's lean path; false sends every call through connect-es. */
  readonly leanGrpc: boolean;
  /** TESSERA_DPOP_NONCE: every DPoP proof must carry a server nonce (RFC 9449 §8). */
  readonly dpopNonce: boolean;
  /**
   * Until this time, private_key_jwt assertions may still name the token endpoint URL as `aud`
   * (draft-ietf-oauth-rfc7523bis allows only the issuer); undefined: never.
   */
  readonly legacyAssertionAudienceUntil: Date | undefined;
  /** Outbound key fetches (issuers' and clients' JWKS, discovery, SPIFFE bundles). */
  readonly federation: {
    /** Plain http:// key URLs are fetched (development clusters only); https only otherwise. */
    readonly allowHttp: boolean;
    /** How long past their freshness fetched keys still serve while their source is unreachable. */
    readonly jwksMaxStalenessSeconds: number;
  };
  /** Audit events delivered to the outside (none by default). */
  readonly events: {
    /** The Standard Webhooks receiver, if configured. */
    readonly webhook:
      | {
          readonly url: string;
          /** The HMAC key: the base64-decoded part of the `whsec_…` secret. */
          readonly key: Buffer;
          /** Failed attempts at one event before the sink is dead-lettered. */
          readonly maxAttempts: number;
          /** Total deadline of one delivery attempt. */
          readonly timeoutMs: number;
        }
      | undefined;
    /** Events as CloudEvents JSON lines on stdout. */
    readonly stdout: boolean;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** Reads and validates the configuration; throws ConfigError listing every problem. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value === "" ? undefined : value;
  };

  const port = parseInteger(read("PORT"), { name: "PORT", fallback: 8080, min: 0, max: 65535 }, problems);
  const host = read("TESSERA_HOST") ?? "0.0.0.0";

  const issuer = read("TESSERA_ISSUER") ?? `http://localhost:${port}`;
  checkIssuer(issuer, problems);

  const dataDir = path.resolve(read("TESSERA_DATA_DIR") ?? "./data");
  const databaseUrl = read("DATABASE_URL");
  let storage: StorageConfig = { kind: "embedded", dataDir };
  if (databaseUrl !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
      problems.push("DATABASE_URL must be a postgres:// or postgresql:// URL");
    } else {
      storage = { kind: "postgres", url: databaseUrl };
    }
  }

  const kek = readKek({ name: "TESSERA_KEK", fileName: "TESSERA_KEK_FILE", checkStrength: true }, read, problems);
  const kekPrevious = readKek({ name: "TESSERA_KEK_PREVIOUS", checkStrength: false }, read, problems);

  let tls: TlsConfig | undefined;
  const certPath = read("TESSERA_TLS_CERT");
  const keyPath = read("TESSERA_TLS_KEY");
  if ((certPath === undefined) !== (keyPath === undefined)) {
    problems.push("TESSERA_TLS_CERT and TESSERA_TLS_KEY must be set together");
  } else if (certPath !== undefined && keyPath !== undefined) {
    const cert = readFile("TESSERA_TLS_CERT", certPath, problems);
    const key = readFile("TESSERA_TLS_KEY", keyPath, problems);
    if (cert && key) tls = { cert, key };
  }

  const adminClientId = read("TESSERA_ADMIN_CLIENT_ID");
  const adminClientSecret = read("TESSERA_ADMIN_CLIENT_SECRET");
  let admin: Config["admin"];
  if ((adminClientId === undefined) !== (adminClientSecret === undefined)) {
    problems.push("TESSERA_ADMIN_CLIENT_ID and TESSERA_ADMIN_CLIENT_SECRET must be set together");
  } else if (adminClientId !== undefined && adminClientSecret !== undefined) {
    if (!CLIENT_ID_PATTERN.test(adminClientId)) {
      problems.push("TESSERA_ADMIN_CLIENT_ID must be 3–128 characters of A-Z a-z 0-9 . _ ~ -");
    }
    const weakness = chosenSecretWeakness(adminClientSecret);
    if (weakness) problems.push(`TESSERA_ADMIN_CLIENT_SECRET ${weakness}`);
    admin = { clientId: adminClientId, clientSecret: adminClientSecret };
  }

  const algorithm = read("TESSERA_DEFAULT_ALG") ?? "RS256";
  if (!(SIGNING_ALGORITHMS as readonly string[]).includes(algorithm)) {
    problems.push(`TESSERA_DEFAULT_ALG must be one of ${SIGNING_ALGORITHMS.join(", ")}`);
  }
  const rsaModulusLength = parseInteger(read("TESSERA_RSA_KEY_BITS"), { name: "TESSERA_RSA_KEY_BITS", fallback: 2048, min: 2048, max: 3072 }, problems);
  if (rsaModulusLength !== 2048 && rsaModulusLength !== 3072) problems.push("TESSERA_RSA_KEY_BITS must be 2048 or 3072");

  const maxTokenLifetimeSeconds = parseDuration(read("TESSERA_MAX_TOKEN_LIFETIME"), { name: "TESSERA_MAX_TOKEN_LIFETIME", fallback: 86_400 }, problems);
  const tokenLifetimeSeconds = parseDuration(read("TESSERA_TOKEN_LIFETIME"), { name: "TESSERA_TOKEN_LIFETIME", fallback: 3_600 }, problems);
  if (tokenLifetimeSeconds > maxTokenLifetimeSeconds) {
    problems.push("TESSERA_TOKEN_LIFETIME must not exceed TESSERA_MAX_TOKEN_LIFETIME");
  }

  const keyRotationIntervalSeconds = parseDuration(read("TESSERA_KEY_ROTATION_INTERVAL"), { name: "TESSERA_KEY_ROTATION_INTERVAL", fallback: 30 * 86_400 }, problems);
  const jwksMaxAgeSeconds = parseDuration(read("TESSERA_JWKS_MAX_AGE"), { name: "TESSERA_JWKS_MAX_AGE", fallback: 300 }, problems);
  if (keyRotationIntervalSeconds < 4 * jwksMaxAgeSeconds + 60) {
    problems.push("TESSERA_KEY_ROTATION_INTERVAL must be well above the JWKS publication lead (4 × TESSERA_JWKS_MAX_AGE + 60 s)");
  }

  const refreshTokenLifetimeSeconds = parseDuration(read("TESSERA_REFRESH_TOKEN_LIFETIME"), { name: "TESSERA_REFRESH_TOKEN_LIFETIME", fallback: 7 * 86_400 }, problems);
  const refreshTokenMaxChainLifetimeSeconds = parseDuration(
    read("TESSERA_REFRESH_TOKEN_MAX_CHAIN_LIFETIME"),
    { name: "TESSERA_REFRESH_TOKEN_MAX_CHAIN_LIFETIME", fallback: 30 * 86_400 },
    problems,
  );

  const degradedWindowSeconds = parseDuration(read("TESSERA_DEGRADED_WINDOW"), { name: "TESSERA_DEGRADED_WINDOW", fallback: 300 }, problems);

  const abuseLimits: AbuseLimitPolicy = {
    perIpPerSecond: parseInteger(read("TESSERA_RATE_LIMIT_PER_IP"), { name: "TESSERA_RATE_LIMIT_PER_IP", fallback: 20_000, min: 0, max: 10_000_000 }, problems),
    perClientPerSecond: parseInteger(read("TESSERA_RATE_LIMIT_PER_CLIENT"), { name: "TESSERA_RATE_LIMIT_PER_CLIENT", fallback: 10_000, min: 0, max: 10_000_000 }, problems),
    lockoutThreshold: parseInteger(read("TESSERA_LOCKOUT_THRESHOLD"), { name: "TESSERA_LOCKOUT_THRESHOLD", fallback: 10, min: 0, max: 1_000 }, problems),
    lockoutBaseSeconds: 1,
    lockoutMaxSeconds: parseDuration(read("TESSERA_LOCKOUT_MAX"), { name: "TESSERA_LOCKOUT_MAX", fallback: 60 }, problems),
  };
  const trustedProxies = parseSubnets(read("TESSERA_TRUSTED_PROXIES"), "TESSERA_TRUSTED_PROXIES", problems);
  const tlsClientCaPath = read("TESSERA_TLS_CLIENT_CA");
  const tlsClientCa = tlsClientCaPath === undefined ? undefined : readFile("TESSERA_TLS_CLIENT_CA", tlsClientCaPath, problems);
  if (tlsClientCa !== undefined && !/-----BEGIN CERTIFICATE-----/.test(tlsClientCa.toString("latin1"))) {
    problems.push("TESSERA_TLS_CLIENT_CA must be a PEM file holding at least one CERTIFICATE");
  }
  const clientCertHeader = read("TESSERA_CLIENT_CERT_HEADER")?.toLowerCase();
  if (clientCertHeader !== undefined) {
    // RFC 9110 §5.1 token characters; and the pseudo-headers and hop-by-hop names are not a place for it.
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]{1,128}$/.test(clientCertHeader)) problems.push("TESSERA_CLIENT_CERT_HEADER must be a header name, e.g. x-forwarded-client-cert");
    if (trustedProxies.length === 0) problems.push("TESSERA_CLIENT_CERT_HEADER needs TESSERA_TRUSTED_PROXIES: the header is believed only from those addresses");
  }
  const connectionLimits: ConnectionLimits = {
    maxConnectionsPerIp: parseInteger(read("TESSERA_MAX_CONNECTIONS_PER_IP"), { name: "TESSERA_MAX_CONNECTIONS_PER_IP", fallback: 256, min: 0, max: 1_000_000 }, problems),
    maxConnections: parseInteger(read("TESSERA_MAX_CONNECTIONS"), { name: "TESSERA_MAX_CONNECTIONS", fallback: 10_000, min: 0, max: 1_000_000 }, problems),
    headersTimeoutMs: 1000 * parseDuration(read("TESSERA_HEADERS_TIMEOUT"), { name: "TESSERA_HEADERS_TIMEOUT", fallback: 10 }, problems),
    requestTimeoutMs: 1000 * parseDuration(read("TESSERA_REQUEST_TIMEOUT"), { name: "TESSERA_REQUEST_TIMEOUT", fallback: 30 }, problems),
    idleTimeoutMs: 1000 * parseDuration(read("TESSERA_IDLE_TIMEOUT"), { name: "TESSERA_IDLE_TIMEOUT", fallback: 120 }, problems),
  };
  if (connectionLimits.requestTimeoutMs < connectionLimits.headersTimeoutMs) {
    problems.push("TESSERA_REQUEST_TIMEOUT must not be shorter than TESSERA_HEADERS_TIMEOUT");
  }

  const maxDelegationDepth = parseInteger(
    read("TESSERA_TOKEN_EXCHANGE_MAX_DELEGATION_DEPTH"),
    { name: "TESSERA_TOKEN_EXCHANGE_MAX_DELEGATION_DEPTH", fallback: 4, min: 1, max: 16 },
    problems,
  );

  const scopePolicy = read("TESSERA_SCOPE_POLICY") ?? "strict";
  if (scopePolicy !== "strict" && scopePolicy !== "narrow") problems.push("TESSERA_SCOPE_POLICY must be strict or narrow");

  const logLevel = read("TESSERA_LOG_LEVEL") ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) problems.push(`TESSERA_LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}`);

  const shutdownTimeoutMs = 1000 * parseDuration(read("TESSERA_SHUTDOWN_TIMEOUT"), { name: "TESSERA_SHUTDOWN_TIMEOUT", fallback: 10 }, problems);
  const auditRetentionSeconds = parseDuration(read("TESSERA_AUDIT_RETENTION"), { name: "TESSERA_AUDIT_RETENTION", fallback: 90 * 86_400 }, problems);

  const leanGrpc = read("TESSERA_LEAN_GRPC") ?? "true";
  if (leanGrpc !== "true" && leanGrpc !== "false") problems.push("TESSERA_LEAN_GRPC must be true or false");

  const dpopNonce = read("TESSERA_DPOP_NONCE") ?? "false";
  if (dpopNonce !== "true" && dpopNonce !== "false") problems.push("TESSERA_DPOP_NONCE must be true or false");

  const legacyAudienceText = read("TESSERA_LEGACY_ASSERTION_AUDIENCE_UNTIL");
  const legacyAssertionAudienceUntil = legacyAudienceText === undefined ? undefined : new Date(legacyAudienceText);
  // An ISO 8601 date or date-time: a transition has an end, never "for ever".
  if (legacyAssertionAudienceUntil !== undefined && (!/^\d{4}-\d{2}-\d{2}/.test(legacyAudienceText!) || Number.isNaN(legacyAssertionAudienceUntil.getTime()))) {
    problems.push("TESSERA_LEGACY_ASSERTION_AUDIENCE_UNTIL must be an ISO 8601 date, e.g. 2027-03-31");
  }
  const allowHttp = read("TESSERA_FEDERATION_ALLOW_HTTP") ?? "false";
  if (allowHttp !== "true" && allowHttp !== "false") problems.push("TESSERA_FEDERATION_ALLOW_HTTP must be true or false");
  const jwksMaxStalenessSeconds = parseDuration(
    read("TESSERA_FEDERATION_JWKS_MAX_STALENESS"),
    { name: "TESSERA_FEDERATION_JWKS_MAX_STALENESS", fallback: 3_600 },
    problems,
  );
  if (jwksMaxStalenessSeconds > 7 * 86_400) problems.push("TESSERA_FEDERATION_JWKS_MAX_STALENESS must be at most 7d");

  const events = readEventSettings(read, problems);

  if (problems.length > 0) throw new ConfigError(problems);

  return Object.freeze({
    port,
    host,
    issuer,
    storage: Object.freeze(storage),
    dataDir,
    kek,
    kekPrevious,
    tls,
    admin: admin && Object.freeze(admin),
    defaultAlgorithm: algorithm as SigningAlgorithm,
    rsaModulusLength: rsaModulusLength as 2048 | 3072,
    tokenLifetimeSeconds,
    maxTokenLifetimeSeconds,
    scopePolicy: scopePolicy as ScopePolicy,
    maxDelegationDepth,
    degradedWindowSeconds,
    abuseLimits: Object.freeze(abuseLimits),
    trustedProxies: Object.freeze(trustedProxies),
    tlsClientCa,
    clientCertHeader,
    connectionLimits: Object.freeze(connectionLimits),
    refreshTokenLifetimeSeconds,
    refreshTokenMaxChainLifetimeSeconds,
    keyRotationIntervalSeconds,
    jwksMaxAgeSeconds,
    logLevel: logLevel as LogLevel,
    shutdownTimeoutMs,
    auditRetentionSeconds,
    leanGrpc: leanGrpc === "true",
    dpopNonce: dpopNonce === "true",
    legacyAssertionAudienceUntil,
    federation: Object.freeze({ allowHttp: allowHttp === "true", jwksMaxStalenessSeconds }),
    events: Object.freeze(events),
  });
}

/** Standard Webhooks secrets are `whsec_` and the base64 of 24 to 64 random bytes. */
const WEBHOOK_SECRET = /^whsec_([A-Za-z0-9+/]+={0,2})$/;

function readEventSettings(read: (name: string) => string | undefined, problems: string[]): Config["events"] {
  const url = read("TESSERA_EVENT_WEBHOOK_URL");
  const secret = read("TESSERA_EVENT_WEBHOOK_SECRET");
  const maxAttempts = parseInteger(read("TESSERA_EVENT_WEBHOOK_MAX_ATTEMPTS"), { name: "TESSERA_EVENT_WEBHOOK_MAX_ATTEMPTS", fallback: 10, min: 1, max: 1_000 }, problems);
  const timeoutSeconds = parseDuration(read("TESSERA_EVENT_WEBHOOK_TIMEOUT"), { name: "TESSERA_EVENT_WEBHOOK_TIMEOUT", fallback: 10 }, problems);
  if (timeoutSeconds > 300) problems.push("TESSERA_EVENT_WEBHOOK_TIMEOUT must be at most 5m");
  const stdout = read("TESSERA_EVENT_STDOUT") ?? "false";
  if (stdout !== "true" && stdout !== "false") problems.push("TESSERA_EVENT_STDOUT must be true or false");

  let webhook: Config["events"]["webhook"];
  if ((url === undefined) !== (secret === undefined)) {
    problems.push("TESSERA_EVENT_WEBHOOK_URL and TESSERA_EVENT_WEBHOOK_SECRET must be set together");
  } else if (url !== undefined && secret !== undefined) {
    // The operator chose the receiver: plain http:// and loopback addresses are theirs to use.
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      problems.push("TESSERA_EVENT_WEBHOOK_URL must be an absolute http(s) URL");
    }
    if (parsed && parsed.protocol !== "http:" && parsed.protocol !== "https:") problems.push("TESSERA_EVENT_WEBHOOK_URL must be an http(s) URL");
    const match = WEBHOOK_SECRET.exec(secret);
    const key = match ? Buffer.from(match[1]!, "base64") : undefined;
    if (!key || key.length < 24 || key.length > 64) {
      problems.push("TESSERA_EVENT_WEBHOOK_SECRET must be a Standard Webhooks secret: whsec_ and the base64 of 24 to 64 bytes (e.g. `echo whsec_$(openssl rand -base64 32)`)");
    } else if (parsed) {
      webhook = Object.freeze({ url: parsed.toString(), key, maxAttempts, timeoutMs: timeoutSeconds * 1000 });
    }
  }
  return { webhook, stdout: stdout === "true" };
}

function checkIssuer(issuer: string, problems: string[]): void {
  // RFC 8414 §2: the issuer is an https URL with no query or fragment; plain http is allowed
  // here for local development and tests.
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    problems.push("TESSERA_ISSUER must be an absolute URL");
    return;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") problems.push("TESSERA_ISSUER must be an http(s) URL");
  if (url.search !== "" || url.hash !== "" || issuer.includes("?") || issuer.includes("#")) {
    problems.push("TESSERA_ISSUER must not have a query or fragment (RFC 8414 §2)");
  }
}

/** Comma-separated CIDRs ("10.0.0.0/8, fd00::/8"); a bare address is a range of one. */
function parseSubnets(raw: string | undefined, name: string, problems: string[]): IpSubnet[] {
  if (raw === undefined) return [];
  const subnets: IpSubnet[] = [];
  for (const entry of raw.split(",").map((part) => part.trim()).filter((part) => part !== "")) {
    const [address = "", prefixText, ...rest] = entry.split("/");
    const family = isIP(address);
    const bits = family === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? bits : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : -1;
    if (family === 0 || rest.length > 0 || prefix < 0 || prefix > bits) {
      problems.push(`${name} must be comma-separated IPv4 or IPv6 CIDRs such as 10.0.0.0/8 or fd00::/8, got ${JSON.stringify(entry)}`);
      continue;
    }
    subnets.push(Object.freeze({ address, prefix, family: family === 4 ? "ipv4" : "ipv6" }));
  }
  return subnets;
}

function parseInteger(
  raw: string | undefined,
  spec: { name: string; fallback: number; min: number; max: number },
  problems: string[],
): number {
  if (raw === undefined) return spec.fallback;
  if (!/^\d+$/.test(raw)) {
    problems.push(`${spec.name} must be a whole number, got ${JSON.stringify(raw)}`);
    return spec.fallback;
  }
  const value = Number(raw);
  if (value < spec.min || value > spec.max) {
    problems.push(`${spec.name} must be between ${spec.min} and ${spec.max}, got ${value}`);
    return spec.fallback;
  }
  return value;
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400 };

/** Seconds, as a bare number or with a unit: "90", "90s", "15m", "1h", "30d". */
export function parseDuration(
  raw: string | undefined,
  spec: { name: string; fallback: number },
  problems: string[],
): number {
  if (raw === undefined) return spec.fallback;
  const match = /^(\d+)([smhd]?)$/.exec(raw);
  if (!match) {
    problems.push(`${spec.name} must be a duration such as 3600, 90s, 15m, 1h or 30d, got ${JSON.stringify(raw)}`);
    return spec.fallback;
  }
  const seconds = Number(match[1]) * (DURATION_UNITS[match[2] || "s"] ?? 1);
  if (seconds <= 0) {
    problems.push(`${spec.name} must be positive`);
    return spec.fallback;
  }
  return seconds;
}

function readKek(
  spec: { name: string; fileName?: string; checkStrength: boolean },
  read: (name: string) => string | undefined,
  problems: string[],
): Buffer | undefined {
  let raw = read(spec.name);
  const file = spec.fileName ? read(spec.fileName) : undefined;
  if (raw !== undefined && file !== undefined) {
    problems.push(`set only one of ${spec.name} and ${spec.fileName}`);
    return undefined;
  }
  let source = spec.name;
  if (file !== undefined && spec.fileName) {
    const content = readFile(spec.fileName, file, problems);
    if (!content) return undefined;
    raw = content.toString("utf8").trim();
    source = `${spec.fileName} (${file})`;
  }
  if (raw === undefined) return undefined;
  const key = Buffer.from(raw, "base64");
  if (key.length !== 32 || key.toString("base64").replace(/=+$/, "") !== raw.replace(/=+$/, "")) {
    problems.push(`${source} must be 32 bytes in base64 (e.g. \`openssl rand -base64 32\`)`);
    return undefined;
  }
  // A KEK of 32 zero bytes ("AAAA…") is 32 bytes too. The previous KEK is exempt: refusing it
  // would stop a rotation away from a weak one.
  if (spec.checkStrength && estimateSecretBits(raw) < CHOSEN_SECRET_RULES.minEstimatedBits) {
    problems.push(`${source} is too predictable for a key-encryption key: generate one with \`openssl rand -base64 32\``);
    return undefined;
  }
  return key;
}

function readFile(name: string, file: string, problems: string[]): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (error) {
    problems.push(`${name}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
    return undefined;
  }
}
