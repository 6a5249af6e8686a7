/**
 * Abuse limits for the endpoints that take credentials (token, introspection, revocation and
 * their RPCs): a budget per source address for failed and unauthenticated requests, a budget per
 * client for authenticated ones, and a backoff after repeated failed client authentications.
 *
 * The address budget is taken before the credentials are checked and given back once they prove
 * good, so it counts exactly the failures and the requests without credentials: a busy resource
 * server is governed by its own client's limit, however many calls its address makes, while an
 * address that only guesses or floods runs dry.
 *
 * The backoff is keyed by (client id, source address): guessing from one address slows that
 * address only, so an attacker cannot lock a real client out from elsewhere. From the threshold
 * on, every further failure doubles the wait (capped by policy, a minute by default), during
 * which that address's attempts for that client are refused unchecked — a correct guess must
 * not be confirmed — and a success after the wait clears the count. A quiet spell as long as the
 * cap forgets the count too, so a real client that shares an address with a guesser (NAT, a
 * proxy that is not configured as trusted) waits at most the cap once the guessing stops.
 *
 * Client ids outside the id alphabet are never keys here (the authenticator refuses them first),
 * and every map is bounded in bytes as well as entries. All state is per replica and in memory.
 */
import { TesseraError } from "../errors.js";
import { RecentMap } from "./recent-map.js";

export interface RequestOrigin {
  /** The caller's address: the peer, or what a trusted proxy says the peer was. */
  readonly ip: string;
}

export const UNKNOWN_ORIGIN: RequestOrigin = { ip: "unknown" };

export function tooManyRequests(retryAfterSeconds: number, description: string): TesseraError {
  return new TesseraError("too_many_requests", description, undefined, Math.max(1, Math.ceil(retryAfterSeconds)));
}

/** Per map: an entry is small (a short key and a few numbers), so the entry cap is reached well before the byte cap. */
const MAX_ENTRIES = 100_000;
const MAX_BYTES = 32 * 1024 * 1024;

export class TokenBuckets {
  private readonly buckets: RecentMap<{ tokens: number; at: number }>;

  constructor(private readonly options: { maxEntries: number; maxBytes: number; now: () => number }) {
    this.buckets = new RecentMap(options);
  }

  /** Takes one token; returns 0 if allowed, otherwise the seconds until one is available. */
  take(key: string, perSecond: number, burst: number): number {
    if (perSecond <= 0) return 0;
    const now = this.options.now();
    // get() already makes the bucket the most recent; a known bucket is refilled in place.
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: burst, at: now };
      this.buckets.set(key, bucket);
    } else {
      // A clock stepped back (NTP) gives nothing, rather than a deficit that would starve the
      // bucket until the clock is back where it was.
      bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * perSecond);
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / perSecond;
  }

  /** Gives back a token taken by take(). */
  refund(key: string, perSecond: number, burst: number): void {
    if (perSecond <= 0) return;
    const bucket = this.buckets.peek(key);
    if (bucket !== undefined) bucket.tokens = Math.min(burst, bucket.tokens + 1);
  }
}

export interface AbuseLimitPolicy {
  /** Failed and unauthenticated requests per second per source address; 0 disables. Burst is twice the rate. */
  readonly perIpPerSecond: number;
  /** Requests per second per client unless the client sets its own; 0 disables. */
  readonly perClientPerSecond: number;
  /** Consecutive failures from one address for one client before the backoff starts. */
  readonly lockoutThreshold: number;
  /** First wait in seconds; doubles with every further failure, up to the maximum. */
  readonly lockoutBaseSeconds: number;
  /** The longest wait; also how long a quiet address keeps its failure count. */
  readonly lockoutMaxSeconds: number;
}

interface FailureState {
  count: number;
  lockedUntil: number;
  lastFailureAt: number;
}

export class AbuseLimits {
  /**
   * Addresses' and clients' buckets in maps of their own, each with half the budget of one map:
   * keyed by the address or the id as it is, with no prefix to build and hash per request.
   */
  private readonly addressBuckets: TokenBuckets;
  private readonly clientBuckets: TokenBuckets;
  private readonly failures: RecentMap<FailureState>;

  constructor(
    private readonly policy: AbuseLimitPolicy,
    private readonly hooks: { now: () => number; onLimited?: (limit: "ip" | "client" | "lockout") => void },
  ) {
    const half = { maxEntries: MAX_ENTRIES / 2, maxBytes: MAX_BYTES / 2, now: hooks.now };
    this.addressBuckets = new TokenBuckets(half);
    this.clientBuckets = new TokenBuckets(half);
    this.failures = new RecentMap({ maxEntries: MAX_ENTRIES, maxBytes: MAX_BYTES });
  }

  /**
   * Before looking at credentials: takes from the address's budget (given back on success), and
   * refuses an address that is waiting out a backoff for this client id. `clientId` must be a
   * well-formed id or undefined.
   */
  beforeAuthentication(origin: RequestOrigin, clientId: string | undefined): void {
    const perIp = this.policy.perIpPerSecond;
    if (perIp > 0) {
      const wait = this.addressBuckets.take(origin.ip, perIp, 2 * perIp);
      if (wait > 0) this.refuse("ip", wait, "too many failed or unauthenticated requests from this address");
    }
    if (clientId === undefined || this.failures.size === 0) return;
    const state = this.currentFailures(lockoutKey(origin, clientId));
    const remaining = state ? (state.lockedUntil - this.hooks.now()) / 1000 : 0;
    // Refused whatever the secret: a correct guess during the backoff must not be confirmed.
    if (remaining > 0) this.refuse("lockout", remaining, "too many failed authentications; retry later");
  }

  /** After a successful client authentication: the address's token back, the client's own budget. */
  afterAuthentication(origin: RequestOrigin, clientId: string, clientPerSecond: number | null): void {
    this.refundAddress(origin);
    if (this.failures.size > 0) this.failures.delete(lockoutKey(origin, clientId));
    const perSecond = clientPerSecond ?? this.policy.perClientPerSecond;
    if (perSecond <= 0) return;
    const wait = this.clientBuckets.take(clientId, perSecond, 2 * perSecond);
    if (wait > 0) this.refuse("client", wait, "too many requests for this client");
  }

  /** After a caller proved itself another way (a valid Bearer token): the address's token back. */
  afterBearerAuthentication(origin: RequestOrigin): void {
    this.refundAddress(origin);
  }

  /** A failed authentication: the address's token stays spent; a named client's count grows. */
  authenticationFailed(origin: RequestOrigin, clientId: string | undefined): void {
    if (clientId === undefined || this.policy.lockoutThreshold <= 0) return;
    const key = lockoutKey(origin, clientId);
    const now = this.hooks.now();
    const state = this.currentFailures(key) ?? { count: 0, lockedUntil: 0, lastFailureAt: now };
    state.count += 1;
    state.lastFailureAt = now;
    if (state.count >= this.policy.lockoutThreshold) {
      const doublings = Math.min(state.count - this.policy.lockoutThreshold, 30);
      const seconds = Math.min(this.policy.lockoutMaxSeconds, this.policy.lockoutBaseSeconds * 2 ** doublings);
      state.lockedUntil = now + seconds * 1000;
    }
    this.failures.set(key, state);
  }

  /** The failure count for this key, unless it has been quiet for the longest wait. */
  private currentFailures(key: string): FailureState | undefined {
    const state = this.failures.get(key);
    if (state === undefined) return undefined;
    const quietSince = Math.max(state.lastFailureAt, state.lockedUntil);
    if (this.hooks.now() - quietSince >= this.policy.lockoutMaxSeconds * 1000) {
      this.failures.delete(key);
      return undefined;
    }
    return state;
  }

  private refundAddress(origin: RequestOrigin): void {
    const perIp = this.policy.perIpPerSecond;
    if (perIp > 0) this.addressBuckets.refund(origin.ip, perIp, 2 * perIp);
  }

  private refuse(limit: "ip" | "client" | "lockout", seconds: number, description: string): never {
    this.hooks.onLimited?.(limit);
    throw tooManyRequests(seconds, description);
  }
}

function lockoutKey(origin: RequestOrigin, clientId: string): string {
  return `${clientId}\u0000${origin.ip}`;
}
