/**
 * The verification keys of trusted issuers (and of clients that register theirs by URL), held
 * in memory and fetched through the hardened outbound fetcher. The rules:
 *
 * - A key set is fresh for the server's Cache-Control max-age, clamped to [minMaxAge, maxMaxAge]
 *   (the default when absent). Past a fraction of that, the next request that uses it starts one
 *   refetch in the background and is answered from memory: a known `kid` never waits on a fetch.
 * - An unknown `kid` may trigger one refetch per key set per cooldown (a rotation at the issuer
 *   is picked up at once; a stream of invented kids costs one fetch per cooldown).
 * - Fetches are single-flight: however many requests ask at once, one fetch runs.
 * - When refetching fails, the keys last fetched serve until their freshness plus the stale
 *   window has passed; then requests are refused (fail closed) until a fetch succeeds again.
 * - A failed fetch is not retried before the cooldown, so an unreachable issuer is not asked
 *   again for every request that names it.
 * - A change of the trusted issuer (or client) drops what was held for it.
 *
 * Key choice: the key with the header's `kid` (or the only fitting key when the token names
 * none), of a type that fits `alg` (RFC 7518 §3.1), whose own `alg`, if stated, equals the
 * header's; never a symmetric key (kty oct), never more than `maxKeysPerSet` keys kept.
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto";
import type { Client, JsonObject } from "../clients/client.js";
import { assertionKeyProblem } from "../clients/client-keys.js";
import { TesseraError } from "../errors.js";
import type { ClientKeysByUrl } from "../oauth/client-authentication/context.js";
import type { TrustedIssuer } from "./federation.js";
import type { IssuerKeys } from "./issuer-keys.js";
import { OutboundFetchError, type JsonFetcher, type OutboundFetchFailure } from "./outbound-fetch.js";

export interface KeyCachePolicy {
  readonly defaultMaxAgeSeconds: number;
  readonly minMaxAgeSeconds: number;
  readonly maxMaxAgeSeconds: number;
  /** Between two refetches for unknown kids, and after a failed fetch. */
  readonly cooldownSeconds: number;
  /** How long past their freshness keys still serve while their source cannot be reached. */
  readonly maxStalenessSeconds: number;
  readonly maxKeysPerSet: number;
  /** Key sets held at once (trusted issuers and clients with a jwks_uri). */
  readonly maxKeySets: number;
  /** The fraction of its freshness after which a key set in use is refetched in the background. */
  readonly refreshAheadFraction: number;
}

export const DEFAULT_KEY_CACHE_POLICY: KeyCachePolicy = {
  defaultMaxAgeSeconds: 300,
  minMaxAgeSeconds: 60,
  maxMaxAgeSeconds: 86_400,
  cooldownSeconds: 30,
  maxStalenessSeconds: 3_600,
  maxKeysPerSet: 100,
  maxKeySets: 10_000,
  refreshAheadFraction: 0.75,
};

/** Where a key set came from, for the fetch metric: a fixed set. */
export type KeySetSource = "discovery" | "jwks_uri" | "spiffe" | "client_jwks_uri";
/** How a fetch ended, for the fetch metric: a fixed set. */
export type KeyFetchOutcome = "success" | "invalid_document" | OutboundFetchFailure;

export interface IssuerKeyCacheOptions {
  readonly fetchJson: JsonFetcher;
  readonly now: () => Date;
  readonly policy?: Partial<KeyCachePolicy>;
  /** Called once per fetch of a key set (discovery and JWKS count as one). */
  readonly onFetch?: (source: KeySetSource, outcome: KeyFetchOutcome) => void;
  /** Told why a fetch failed, for the operator: whose keys (`issuer` or `clientId`) and the cause. */
  readonly onFetchFailure?: (failure: { readonly source: KeySetSource; readonly issuer?: string; readonly clientId?: string; readonly reason: KeyFetchOutcome; readonly message: string }) => void;
}

interface HeldKey {
  readonly kid: string | undefined;
  readonly alg: string | undefined;
  readonly key: KeyObject;
}

interface KeySetEntry {
  /** What the keys were fetched for; another value means the issuer or client changed. */
  readonly version: string;
  keys: readonly HeldKey[] | undefined;
  /** ms: fresh until; refetch in the background after refreshAt. */
  freshUntil: number;
  refreshAt: number;
  /** ms of the last fetch attempt that failed, and of the last refetch for an unknown kid. */
  lastFailure: number;
  lastKidRefetch: number;
  inflight: Promise<void> | undefined;
}

/** How to fetch one key set. */
interface RemoteKeySet {
  readonly id: string;
  readonly version: string;
  readonly source: KeySetSource;
  /** The JWKs the source serves now, and the max-age it asked for. */
  load(): Promise<{ readonly keys: readonly unknown[]; readonly maxAgeSeconds: number | undefined }>;
  /** Whether a JWK of this set may verify (e.g. SPIFFE's `use: jwt-svid`). */
  accepts(jwk: JsonObject): boolean;
}

export interface JoseHeader {
  readonly alg?: string | undefined;
  readonly kid?: string | undefined;
}

/** Thrown for every refusal; callers authenticating clients re-code it as invalid_client. */
function refused(message: string): TesseraError {
  return new TesseraError("invalid_grant", message);
}

class InvalidKeyDocument extends Error {}

export class IssuerKeyCache implements IssuerKeys, ClientKeysByUrl {
  private readonly policy: KeyCachePolicy;
  private readonly entries = new Map<string, KeySetEntry>();
  /** Inline key sets, parsed once per issuer revision. */
  private readonly inline = new WeakMap<TrustedIssuer, readonly HeldKey[]>();

  constructor(private readonly options: IssuerKeyCacheOptions) {
    this.policy = { ...DEFAULT_KEY_CACHE_POLICY, ...options.policy };
  }

  async keyFor(issuer: TrustedIssuer, header: JoseHeader): Promise<KeyObject> {
    const source = issuer.keySource;
    const remote = (kind: KeySetSource, load: RemoteKeySet["load"], accepts: RemoteKeySet["accepts"]) =>
      this.remoteKeyFor({ id: `issuer\u0000${issuer.issuer}`, version: `${issuer.revision}`, source: kind, load, accepts }, header);
    switch (source.kind) {
      case "jwks":
        return choose(this.inlineKeys(issuer, source.jwks, acceptsSignatureKey), header);
      case "spiffe": {
        const endpoint = source.bundleEndpoint;
        if (endpoint === null) return choose(this.inlineKeys(issuer, source.bundle ?? {}, acceptsJwtSvidKey), header);
        return remote("spiffe", () => this.loadSpiffeBundle(endpoint), acceptsJwtSvidKey);
      }
      case "jwks_uri":
        return remote("jwks_uri", () => this.loadJwks(source.jwksUri), acceptsSignatureKey);
      case "discovery":
        return remote("discovery", () => this.loadByDiscovery(issuer.issuer), acceptsSignatureKey);
    }
  }

  /** A client's keys from its `jwks_uri`, under the registration rules for client keys (client-keys.ts). */
  async clientKeyFor(client: Client, header: JoseHeader): Promise<KeyObject> {
    if (!client.jwksUri) throw refused("client has no jwks_uri");
    const jwksUri = client.jwksUri;
    return this.remoteKeyFor(
      {
        id: `client\u0000${client.id}`,
        // A client deleted and created again starts at revision 1: the URL and update time tell them apart.
        version: `${client.revision}\u0000${client.updateTime.getTime()}\u0000${jwksUri}`,
        source: "client_jwks_uri",
        load: async () => {
          const fetched = await this.options.fetchJson(jwksUri);
          if (!Array.isArray(fetched.body.keys)) throw new InvalidKeyDocument("not a JWK Set");
          // The registration rules for each key (strength, curve, no private members); a published
          // set may hold more keys than one registered inline, up to the per-set bound.
          const keys = fetched.body.keys.slice(0, this.policy.maxKeysPerSet).filter((key) => assertionKeyProblem(key) === undefined);
          return { keys, maxAgeSeconds: fetched.maxAgeSeconds };
        },
        accepts: acceptsSignatureKey,
      },
      header,
    );
  }

  /** Held key sets (for tests and gauges). */
  get size(): number {
    return this.entries.size;
  }

  private inlineKeys(issuer: TrustedIssuer, jwks: JsonObject, accepts: (jwk: JsonObject) => boolean): readonly HeldKey[] {
    let keys = this.inline.get(issuer);
    if (!keys) {
      keys = heldKeys(Array.isArray(jwks.keys) ? jwks.keys : [], accepts, this.policy.maxKeysPerSet);
      this.inline.set(issuer, keys);
    }
    return keys;
  }

  private async remoteKeyFor(set: RemoteKeySet, header: JoseHeader): Promise<KeyObject> {
    checkHeader(header);
    const now = this.options.now().getTime();
    let entry = this.entries.get(set.id);
    if (entry && entry.version !== set.version) {
      // The issuer (or client) changed: what was fetched for its old definition goes.
      this.entries.delete(set.id);
      entry = undefined;
    }
    if (!entry) {
      entry = { version: set.version, keys: undefined, freshUntil: 0, refreshAt: 0, lastFailure: Number.NEGATIVE_INFINITY, lastKidRefetch: Number.NEGATIVE_INFINITY, inflight: undefined };
      this.hold(set.id, entry);
    }

    const usableUntil = entry.freshUntil + this.policy.maxStalenessSeconds * 1000;
    const cooledDown = (since: number) => now - since >= this.policy.cooldownSeconds * 1000;
    if (entry.keys === undefined || now >= usableUntil) {
      // Nothing usable in memory: this request waits for a fetch (joining one under way), unless
      // one failed within the cooldown.
      if (!entry.inflight && !cooledDown(entry.lastFailure)) throw refused("the issuer's keys cannot be fetched now");
      await this.refetch(set, entry);
      if (entry.keys === undefined || this.options.now().getTime() >= entry.freshUntil + this.policy.maxStalenessSeconds * 1000) {
        throw refused("the issuer's keys cannot be fetched now");
      }
      return choose(entry.keys, header);
    }

    if (now >= entry.refreshAt && !entry.inflight && cooledDown(entry.lastFailure)) {
      // Refreshed in the background: this request and those after it use the keys held.
      void this.refetch(set, entry);
    }
    const known = entry.keys;
    if (header.kid !== undefined && !known.some((key) => key.kid === header.kid)) {
      // A new kid may be a rotation at the issuer: refetch once per cooldown to pick it up.
      if (entry.inflight || cooledDown(entry.lastKidRefetch)) {
        if (!entry.inflight) entry.lastKidRefetch = now;
        await this.refetch(set, entry);
        return choose(entry.keys ?? known, header);
      }
    }
    return choose(known, header);
  }

  /** One fetch per key set at a time: concurrent callers join it. Never rejects. */
  private refetch(set: RemoteKeySet, entry: KeySetEntry): Promise<void> {
    entry.inflight ??= (async () => {
      let outcome: KeyFetchOutcome = "success";
      try {
        const loaded = await set.load();
        const keys = heldKeys(loaded.keys, set.accepts, this.policy.maxKeysPerSet);
        const maxAge = clamp(loaded.maxAgeSeconds ?? this.policy.defaultMaxAgeSeconds, this.policy.minMaxAgeSeconds, this.policy.maxMaxAgeSeconds);
        const fetchedAt = this.options.now().getTime();
        entry.keys = keys;
        entry.freshUntil = fetchedAt + maxAge * 1000;
        entry.refreshAt = fetchedAt + maxAge * 1000 * this.policy.refreshAheadFraction;
      } catch (error) {
        outcome = error instanceof OutboundFetchError ? error.reason : "invalid_document";
        entry.lastFailure = this.options.now().getTime();
        const [kind, name] = set.id.split("\u0000", 2);
        this.options.onFetchFailure?.({
          source: set.source,
          ...(kind === "client" ? { clientId: name } : { issuer: name }),
          reason: outcome,
          message: error instanceof Error ? error.message : "failed",
        });
      } finally {
        entry.inflight = undefined;
      }
      this.options.onFetch?.(set.source, outcome);
    })();
    return entry.inflight;
  }

  private hold(id: string, entry: KeySetEntry): void {
    if (this.entries.size >= this.policy.maxKeySets) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(id, entry);
  }

  private async loadJwks(url: string) {
    const fetched = await this.options.fetchJson(url);
    if (!Array.isArray(fetched.body.keys)) throw new InvalidKeyDocument("not a JWK Set");
    return { keys: fetched.body.keys, maxAgeSeconds: fetched.maxAgeSeconds };
  }

  /** OIDC Discovery 1.0 §4: the document sits under the issuer; §4.3: its `issuer` must be exactly ours. */
  private async loadByDiscovery(issuer: string) {
    const discovery = await this.options.fetchJson(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
    if (discovery.body.issuer !== issuer) throw new InvalidKeyDocument("discovery document names another issuer");
    const jwksUri = discovery.body.jwks_uri;
    if (typeof jwksUri !== "string") throw new InvalidKeyDocument("discovery document has no jwks_uri");
    return this.loadJwks(jwksUri);
  }

  /** SPIFFE Trust Domain and Bundle §4: a JWK Set; `spiffe_refresh_hint` (seconds) says how often to refetch. */
  private async loadSpiffeBundle(url: string) {
    const fetched = await this.options.fetchJson(url);
    if (!Array.isArray(fetched.body.keys)) throw new InvalidKeyDocument("not a SPIFFE bundle");
    const hint = fetched.body.spiffe_refresh_hint;
    return { keys: fetched.body.keys, maxAgeSeconds: typeof hint === "number" && hint > 0 ? hint : fetched.maxAgeSeconds };
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max);
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** RFC 7517 §4.2: keys for verifying signatures are `use: sig`, or say nothing. */
function acceptsSignatureKey(jwk: JsonObject): boolean {
  return jwk.use === undefined || jwk.use === "sig";
}

/** SPIFFE JWT-SVID §6: a bundle's JWT authorities are the keys with `use: jwt-svid`. */
function acceptsJwtSvidKey(jwk: JsonObject): boolean {
  return jwk.use === "jwt-svid";
}

/** Members only private or symmetric keys have (RFC 7518 §6.2.2, §6.3.2, §6.4.1). */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

function heldKeys(jwks: readonly unknown[], accepts: (jwk: JsonObject) => boolean, max: number): HeldKey[] {
  const held: HeldKey[] = [];
  for (const jwk of jwks) {
    if (held.length >= max) break;
    if (!isObject(jwk) || !accepts(jwk)) continue;
    if (jwk.kty !== "RSA" && jwk.kty !== "EC" && jwk.kty !== "OKP") continue;
    if (PRIVATE_MEMBERS.some((member) => member in jwk)) continue;
    if (jwk.kid !== undefined && typeof jwk.kid !== "string") continue;
    if (jwk.alg !== undefined && typeof jwk.alg !== "string") continue;
    try {
      // The JWK's own members only: x5c and the like are not part of the key.
      const { kty, n, e, crv, x, y } = jwk;
      const key = createPublicKey({ key: { kty, n, e, crv, x, y } as JsonWebKey, format: "jwk" });
      held.push({ kid: jwk.kid, alg: jwk.alg, key });
    } catch {
      // A key Node cannot read verifies nothing; the others still serve.
    }
  }
  return held;
}

const RSA_ALGS = new Set(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]);
const EC_CURVE_OF: Readonly<Record<string, string>> = { ES256: "prime256v1", ES384: "secp384r1", ES512: "secp521r1" };

/** RFC 7518 §3.1, RFC 8037 §3.1: the key type each algorithm verifies with. */
function fitsAlgorithm(key: KeyObject, alg: string): boolean {
  if (RSA_ALGS.has(alg)) return key.asymmetricKeyType === "rsa" && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048;
  const curve = EC_CURVE_OF[alg];
  if (curve) return key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === curve;
  if (alg === "EdDSA" || alg === "Ed25519") return key.asymmetricKeyType === "ed25519";
  return false;
}

function checkHeader(header: JoseHeader): void {
  if (typeof header.alg !== "string" || header.alg === "none" || header.alg.startsWith("HS")) {
    throw refused("the token's alg is not an asymmetric signature algorithm");
  }
}

function choose(keys: readonly HeldKey[], header: JoseHeader): KeyObject {
  checkHeader(header);
  const alg = header.alg!;
  const fitting = keys.filter((key) => (key.alg === undefined || key.alg === alg) && fitsAlgorithm(key.key, alg));
  if (header.kid !== undefined) {
    const match = fitting.find((key) => key.kid === header.kid);
    if (match) return match.key;
    if (keys.some((key) => key.kid === header.kid)) throw refused("the key named by kid does not fit the token's alg");
    throw refused("no key of the issuer has the token's kid");
  }
  if (fitting.length === 1) return fitting[0]!.key;
  throw refused(fitting.length === 0 ? "the issuer has no key for the token's alg" : "the token names no kid and the issuer has several keys");
}
