/**
 * Abuse limits for the endpoints that take credentials (token, introspection, revocation and
 * their RPCs): token buckets per source address and per client, and an exponential lockout after
 * repeated failed client authentications.
 *
 * The lockout is keyed by (client id, source address): guessing from one address locks out that
 * address only, so an attacker cannot lock a real client out from elsewhere; a distributed
 * attacker gets many addresses' worth of guesses, which is harmless against 256-bit secrets.
 * All state is per replica and in memory, bounded in size (oldest entries are forgotten first).
 */
import { TesseraError } from "../errors.js";

export interface RequestOrigin {
  /** The peer address as the transport saw it. */
  readonly ip: string;
}

export const UNKNOWN_ORIGIN: RequestOrigin = { ip: "unknown" };

export function tooManyRequests(retryAfterSeconds: number, description: string): TesseraError {
  return new TesseraError("too_many_requests", description, undefined, Math.max(1, Math.ceil(retryAfterSeconds)));
}

/** Bounded map that forgets the least recently touched entry first. */
class RecentMap<V> {
  private readonly entries = new Map<string, V>();
  constructor(private readonly capacity: number) {}
  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }
  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }
  delete(key: string): void {
    this.entries.delete(key);
  }
  get size(): number {
    return this.entries.size;
  }
}

export class TokenBuckets {
  private readonly buckets: RecentMap<{ tokens: number; at: number }>;

  constructor(private readonly options: { capacity: number; now: () => number }) {
    this.buckets = new RecentMap(options.capacity);
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
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / perSecond;
  }
}

export interface AbuseLimitPolicy {
  /** Requests per second per source address; 0 disables. Burst is twice the rate. */
  readonly perIpPerSecond: number;
  /** Requests per second per client unless the client sets its own; 0 disables. */
  readonly perClientPerSecond: number;
  /** Consecutive failures from one address for one client before the lockout starts. */
  readonly lockoutThreshold: number;
  /** First lockout in seconds; doubles with every further failure, up to the maximum. */
  readonly lockoutBaseSeconds: number;
  readonly lockoutMaxSeconds: number;
}

export class AbuseLimits {
  private readonly buckets: TokenBuckets;
  private readonly failures: RecentMap<{ count: number; lockedUntil: number }>;

  constructor(
    private readonly policy: AbuseLimitPolicy,
    private readonly hooks: { now: () => number; onLimited?: (limit: "ip" | "client" | "lockout") => void },
  ) {
    this.buckets = new TokenBuckets({ capacity: 100_000, now: hooks.now });
    this.failures = new RecentMap(100_000);
  }

  /** Before looking at credentials: the address's budget, and the lockout for this client id. */
  beforeAuthentication(origin: RequestOrigin, clientId: string | undefined): void {
    const wait = this.buckets.take(`ip\u0000${origin.ip}`, this.policy.perIpPerSecond, 2 * this.policy.perIpPerSecond);
    if (wait > 0) this.refuse("ip", wait, "too many requests from this address");
    if (clientId === undefined || this.failures.size === 0) return;
    const state = this.failures.get(lockoutKey(origin, clientId));
    const remaining = state ? (state.lockedUntil - this.hooks.now()) / 1000 : 0;
    // Refused whatever the secret: a correct guess during the lockout must not be confirmed.
    if (remaining > 0) this.refuse("lockout", remaining, "too many failed authentications; retry later");
  }

  /** After a successful authentication: the client's own budget. */
  afterAuthentication(origin: RequestOrigin, clientId: string, clientPerSecond: number | null): void {
    if (this.failures.size > 0) this.failures.delete(lockoutKey(origin, clientId));
    const perSecond = clientPerSecond ?? this.policy.perClientPerSecond;
    const wait = this.buckets.take(`client\u0000${clientId}`, perSecond, 2 * perSecond);
    if (wait > 0) this.refuse("client", wait, "too many requests for this client");
  }

  authenticationFailed(origin: RequestOrigin, clientId: string | undefined): void {
    if (clientId === undefined || this.policy.lockoutThreshold <= 0) return;
    const key = lockoutKey(origin, clientId);
    const state = this.failures.get(key) ?? { count: 0, lockedUntil: 0 };
    state.count += 1;
    if (state.count >= this.policy.lockoutThreshold) {
      const seconds = Math.min(this.policy.lockoutMaxSeconds, this.policy.lockoutBaseSeconds * 2 ** (state.count - this.policy.lockoutThreshold));
      state.lockedUntil = this.hooks.now() + seconds * 1000;
    }
    this.failures.set(key, state);
  }

  private refuse(limit: "ip" | "client" | "lockout", seconds: number, description: string): never {
    this.hooks.onLimited?.(limit);
    throw tooManyRequests(seconds, description);
  }
}

function lockoutKey(origin: RequestOrigin, clientId: string): string {
  return `${clientId}\u0000${origin.ip}`;
}
