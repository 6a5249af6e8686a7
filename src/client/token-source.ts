/**
 * The caller's side of client credentials: a token source that asks the issuer once, hands the
 * same token to every caller until it is due for renewal, and renews it ahead of expiry.
 *
 *     const source = createTokenSource({ issuer, clientId, clientSecret, scopes: ["pay:read"], audience: "payments-api" });
 *     const token = await source.getToken();
 *
 * - One cached token per (scopes, audiences).
 * - Concurrent callers share one in-flight request: no stampede when a token is due.
 * - Renewal starts after a fraction of the lifetime (with jitter, so a fleet started together does
 *   not renew together); until the token nears expiry, callers keep getting it at once while the
 *   renewal runs, and a renewal that fails keeps the still-valid token in service.
 * - Failures are retried with exponential backoff and full jitter; a refusal of the client itself
 *   (`invalid_client`, `invalid_scope`, `unauthorized_client`, …) is not, and surfaces at once
 *   with its OAuth `error` code.
 * - The issuer is found through RFC 8414 metadata when only its identifier is given.
 */
import { Http2SessionManager, createGrpcTransport } from "@connectrpc/connect-node";
import { createClient, type Transport } from "@connectrpc/connect";
import type { SecureClientSessionOptions } from "node:http2";
import { TokenService } from "../gen/tessera/v1/token_service_pb.js";
import { clientAssertionSigner, type PrivateKeyOptions } from "./client-authentication.js";
import { discoverMetadata, type AuthorizationServerMetadata } from "./discovery.js";
import { grpcTokenRequester } from "./grpc-token-request.js";
import { dpopProofSigner } from "./dpop.js";
import { TokenError } from "./token-error.js";
import {
  JWT_BEARER_GRANT_TYPE,
  httpTokenRequester,
  type IssuedToken,
  type PresentedCredential,
  type TokenGrant,
  type TokenRequestParameters,
  type TokenRequester,
} from "./token-request.js";

export interface RetryOptions {
  /** Attempts per token request, the first included. Default 3. */
  readonly attempts?: number;
  /** The backoff before the second attempt; doubled for each further one. Default 200. */
  readonly initialDelayMs?: number;
  /** The longest backoff. Default 10000. */
  readonly maxDelayMs?: number;
}

export interface TokenSourceOptions {
  /** The issuer identifier; its token endpoint is found through RFC 8414 metadata. */
  readonly issuer?: string;
  /** The token endpoint, when it is known (no discovery); give `issuer` too for private_key_jwt. */
  readonly tokenEndpoint?: string;
  readonly clientId: string;
  /** The client secret (client_secret_basic, or client_secret_post when the issuer only takes that). */
  readonly clientSecret?: string;
  /** Overrides the choice between Basic and the request body for the secret. */
  readonly clientAuthentication?: "client_secret_basic" | "client_secret_post";
  /** private_key_jwt (RFC 7523 §2.2): the key, or the key with its algorithm and kid. */
  readonly privateKey?: PrivateKeyOptions | PrivateKeyOptions["key"];
  /**
   * Federation: a function returning an external JWT (e.g. a platform's workload identity token),
   * exchanged through the jwt-bearer grant (RFC 7523 §2.1). Called for every token request.
   */
  readonly assertion?: () => string | Promise<string>;
  /**
   * Sender-constrained tokens (RFC 9449 DPoP): the private key the tokens are bound to. Every
   * token request carries a fresh proof signed with it (answering a server nonce when asked);
   * the tokens come back with `tokenType` DPoP, and each resource request then needs its own
   * proof (`dpopProof`).
   */
  readonly dpopKey?: PrivateKeyOptions | PrivateKeyOptions["key"];
  /** Scopes to ask for; default none (the client's default scopes). */
  readonly scopes?: readonly string[];
  /** The audience(s) the token is for, sent as RFC 8707 `resource`; default the client's default. */
  readonly audience?: string | readonly string[];
  /** `http` (POST to the token endpoint, any issuer) or `grpc` (Tessera's TokenService.IssueToken). Default `http`. */
  readonly transport?: "http" | "grpc";
  /** For `transport: "grpc"`. */
  readonly grpc?: {
    /** Tessera's RPC address (h2c for http:, TLS for https:); default the issuer's origin, else the token endpoint's. */
    readonly baseUrl?: string;
    /** TLS settings for the HTTP/2 connection (e.g. `ca`). */
    readonly nodeOptions?: SecureClientSessionOptions;
    /** Replaces the transport altogether (then `close()` leaves it open). */
    readonly transport?: Transport;
  };
  /** Per request (discovery and token). Default 10000. */
  readonly timeoutMs?: number;
  readonly retry?: RetryOptions;
  /** The fraction of a token's lifetime after which it is renewed (±5 % jitter). Default 0.75. */
  readonly renewAfter?: number;
  /** The lifetime assumed when the issuer leaves out `expires_in`. Default 300. */
  readonly defaultLifetimeSeconds?: number;
  /** Called with each failure of a renewal that callers did not wait for (a still-valid token was served). */
  readonly onError?: (error: TokenError) => void;
  /** Replaces global fetch (e.g. undici with a proxy agent). */
  readonly fetch?: typeof fetch;
  /** Milliseconds since the epoch; for tests that move time. */
  readonly now?: () => number;
  /** [0, 1); for tests that pin the jitter. */
  readonly random?: () => number;
}

/** Which token: overrides the source's scopes or audience for one call. */
export interface TokenSelection {
  readonly scopes?: readonly string[];
  readonly audience?: string | readonly string[];
}

/** An issued token with the times the source keeps it by. */
export interface CachedToken extends IssuedToken {
  /** Epoch ms after which a renewal starts. */
  readonly renewAt: number;
  /** Epoch ms after which the token is no longer handed out (a margin before it expires). */
  readonly expiresAt: number;
}

export interface TokenSource {
  /** The access token string. Rejects with a TokenError (`error` = the OAuth error code). */
  getToken(selection?: TokenSelection): Promise<string>;
  /** The access token with its type, granted scopes, times and the issuer's whole answer. */
  getIssuedToken(selection?: TokenSelection): Promise<CachedToken>;
  /** `Bearer <token>` (or `DPoP <token>`), for an `authorization` header. */
  authorization(selection?: TokenSelection): Promise<string>;
  /** Drops the cached token (e.g. after a resource server answered invalid_token), so the next call asks anew. */
  invalidate(selection?: TokenSelection): void;
  /** Closes the gRPC connection, if any; later calls reject. */
  close(): void;
  /**
   * With `dpopKey`: a DPoP proof for one resource request (RFC 9449 §7), to send as the `DPoP`
   * header with `Authorization: DPoP <token>`. Undefined without `dpopKey`.
   */
  dpopProof?(input: { method: string; url: string; accessToken: string; nonce?: string }): Promise<string>;
}

/** Caller-chosen (scopes, audiences) pairs are few in practice; the bound keeps a loop that varies them from growing memory. */
const MAX_CACHED_SELECTIONS = 64;
/** Never hand out a token closer than this to its expiry (clock skew, time in flight). */
const EXPIRY_MARGIN_MS = 30_000;

interface Entry {
  token: CachedToken | undefined;
  inFlight: Promise<CachedToken> | undefined;
  /** Consecutive failed renewals, for the backoff between background renewals. */
  failures: number;
  /** Epoch ms before which a failed background renewal is not started again. */
  nextAttemptAt: number;
}

function listOf(value: string | readonly string[] | undefined): readonly string[] {
  if (value === undefined) return [];
  return typeof value === "string" ? [value] : value;
}

function normalized(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

function isPrivateKeyOptions(value: PrivateKeyOptions | PrivateKeyOptions["key"]): value is PrivateKeyOptions {
  return typeof value === "object" && value !== null && "key" in value;
}

export function createTokenSource(options: TokenSourceOptions): TokenSource {
  if (!options.issuer && !options.tokenEndpoint) throw new TypeError("createTokenSource needs issuer or tokenEndpoint");
  if (!options.clientId) throw new TypeError("createTokenSource needs clientId");
  if (options.clientSecret !== undefined && options.privateKey !== undefined) throw new TypeError("give clientSecret or privateKey, not both");
  // RFC 7523bis: the assertion's audience is the issuer identifier, which a token endpoint alone does not tell.
  if (options.privateKey && !options.issuer) throw new TypeError("private_key_jwt needs issuer: the client assertion's audience is the issuer identifier");

  const fetchImpl = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const attempts = Math.max(1, options.retry?.attempts ?? 3);
  const initialDelayMs = options.retry?.initialDelayMs ?? 200;
  const maxDelayMs = options.retry?.maxDelayMs ?? 10_000;
  const renewAfter = Math.min(Math.max(options.renewAfter ?? 0.75, 0.1), 0.95);
  const defaultLifetimeMs = (options.defaultLifetimeSeconds ?? 300) * 1000;
  const defaultScopes = normalized(options.scopes ?? []);
  const defaultAudiences = normalized(listOf(options.audience));

  // Discovery, once; a failed attempt is forgotten so the next request tries again.
  let metadata: Promise<AuthorizationServerMetadata> | undefined;
  const discover = (): Promise<AuthorizationServerMetadata> => {
    metadata ??= discoverMetadata({ issuer: options.issuer!, fetch: fetchImpl, timeoutMs }).catch((error: unknown) => {
      metadata = undefined;
      throw error;
    });
    return metadata;
  };
  const metadataIfDiscovered = async (): Promise<AuthorizationServerMetadata | undefined> => (options.tokenEndpoint ? undefined : discover());

  let sessionManager: Http2SessionManager | undefined;
  let requester: TokenRequester;
  if (options.transport === "grpc") {
    let transport = options.grpc?.transport;
    if (!transport) {
      const baseUrl = options.grpc?.baseUrl ?? (options.issuer ? new URL(options.issuer).origin : new URL(options.tokenEndpoint!).origin);
      sessionManager = new Http2SessionManager(baseUrl, undefined, options.grpc?.nodeOptions);
      transport = createGrpcTransport({ baseUrl, sessionManager });
    }
    // Tessera names the RPC's URL from its issuer (RFC 9449 §4.3 htu).
    const issueTokenUrl = `${(options.issuer ?? new URL(options.tokenEndpoint!).origin).replace(/\/+$/, "")}/${TokenService.typeName}/${TokenService.method.issueToken.name}`;
    requester = grpcTokenRequester({ client: createClient(TokenService, transport), timeoutMs, issueTokenUrl });
  } else {
    requester = httpTokenRequester({
      tokenEndpoint: async () => options.tokenEndpoint ?? (await discover()).token_endpoint,
      fetch: fetchImpl,
      timeoutMs,
    });
  }

  const signAssertion = options.privateKey
    ? clientAssertionSigner({ clientId: options.clientId, privateKey: isPrivateKeyOptions(options.privateKey) ? options.privateKey : { key: options.privateKey }, now })
    : undefined;

  async function credential(): Promise<PresentedCredential> {
    const { clientId } = options;
    if (signAssertion) {
      const issuer = options.tokenEndpoint ? options.issuer! : (await discover()).issuer;
      return { method: "private_key_jwt", clientId, clientAssertion: await signAssertion(issuer) };
    }
    if (options.clientSecret === undefined) return { method: "none", clientId };
    let method = options.clientAuthentication ?? "client_secret_basic";
    if (!options.clientAuthentication && options.transport !== "grpc") {
      // RFC 8414 §2: without the member, client_secret_basic is the default.
      const supported = (await metadataIfDiscovered())?.token_endpoint_auth_methods_supported;
      if (supported && !supported.includes("client_secret_basic") && supported.includes("client_secret_post")) method = "client_secret_post";
    }
    return { method, clientId, clientSecret: options.clientSecret };
  }

  const dpop = options.dpopKey === undefined ? undefined : dpopProofSigner({ key: options.dpopKey, now });

  async function grant(): Promise<TokenGrant> {
    if (!options.assertion) return { grantType: "client_credentials" };
    return { grantType: JWT_BEARER_GRANT_TYPE, assertion: await options.assertion() };
  }

  /** Full jitter (a uniform delay up to the exponential bound), so retrying callers spread out. */
  function backoffMs(failures: number): number {
    return random() * Math.min(maxDelayMs, initialDelayMs * 2 ** (failures - 1));
  }

  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

  async function requestWithRetry(parameters: TokenRequestParameters): Promise<CachedToken> {
    for (let attempt = 1; ; attempt++) {
      const sentAt = now();
      try {
        const issued = await requester({ grant: await grant(), credential: await credential(), parameters, dpop });
        // Timed from when the request was sent, so time in flight counts against the lifetime.
        const lifetimeMs = issued.expiresIn !== undefined ? issued.expiresIn * 1000 : defaultLifetimeMs;
        const expiresAt = sentAt + lifetimeMs - Math.min(EXPIRY_MARGIN_MS, lifetimeMs / 10);
        const renewAt = Math.min(sentAt + lifetimeMs * (renewAfter + (random() - 0.5) / 10), expiresAt);
        return { ...issued, renewAt, expiresAt };
      } catch (error) {
        const tokenError = error instanceof TokenError ? error : new TokenError("invalid_request", `cannot request a token: ${String(error)}`, { reason: "unexpected_answer", cause: error });
        if (!tokenError.retryable || attempt >= attempts || closed) throw tokenError;
        await sleep(backoffMs(attempt));
      }
    }
  }

  const entries = new Map<string, Entry>();
  let closed = false;

  function selectionOf(selection: TokenSelection | undefined): { key: string; parameters: TokenRequestParameters } {
    const scopes = selection?.scopes ? normalized(selection.scopes) : defaultScopes;
    const audiences = selection?.audience !== undefined ? normalized(listOf(selection.audience)) : defaultAudiences;
    return { key: `${scopes.join(" ")}\n${audiences.join(" ")}`, parameters: { scopes, audiences } };
  }

  function entryFor(key: string): Entry {
    let entry = entries.get(key);
    if (entry) {
      // Most recently used last, so the bound below drops the least recently used.
      entries.delete(key);
      entries.set(key, entry);
      return entry;
    }
    entry = { token: undefined, inFlight: undefined, failures: 0, nextAttemptAt: 0 };
    entries.set(key, entry);
    if (entries.size > MAX_CACHED_SELECTIONS) {
      for (const [oldKey, old] of entries) {
        if (old.inFlight) continue;
        entries.delete(oldKey);
        break;
      }
    }
    return entry;
  }

  function renew(entry: Entry, parameters: TokenRequestParameters): Promise<CachedToken> {
    const inFlight = requestWithRetry(parameters).then(
      (token) => {
        entry.token = token;
        entry.failures = 0;
        entry.nextAttemptAt = 0;
        return token;
      },
      (error: unknown) => {
        entry.failures += 1;
        entry.nextAttemptAt = now() + backoffMs(entry.failures);
        throw error;
      },
    );
    entry.inFlight = inFlight.finally(() => {
      if (entry.inFlight === tracked) entry.inFlight = undefined;
    });
    const tracked = entry.inFlight;
    return tracked;
  }

  async function getIssuedToken(selection?: TokenSelection): Promise<CachedToken> {
    if (closed) throw new TypeError("the token source is closed");
    const { key, parameters } = selectionOf(selection);
    const entry = entryFor(key);
    const token = entry.token;
    const time = now();
    if (token && time < token.expiresAt) {
      if (time >= token.renewAt && !entry.inFlight && time >= entry.nextAttemptAt) {
        // Renew in the background: the current token is still good, so no caller waits for this.
        renew(entry, parameters).catch((error: unknown) => options.onError?.(error as TokenError));
      }
      return token;
    }
    return entry.inFlight ?? renew(entry, parameters);
  }

  return {
    getIssuedToken,
    async getToken(selection) {
      return (await getIssuedToken(selection)).accessToken;
    },
    async authorization(selection) {
      const token = await getIssuedToken(selection);
      // RFC 6750 §2.1 names the scheme Bearer; issuers answer "bearer" in any case (RFC 6749 §7.1).
      const scheme = token.tokenType.toLowerCase() === "bearer" ? "Bearer" : token.tokenType;
      return `${scheme} ${token.accessToken}`;
    },
    invalidate(selection) {
      const entry = entries.get(selectionOf(selection).key);
      if (entry) entry.token = undefined;
    },
    close() {
      closed = true;
      sessionManager?.abort();
    },
    ...(dpop ? { dpopProof: (input: { method: string; url: string; accessToken: string; nonce?: string }) => dpop(input) } : {}),
  };
}
