/**
 * Revoked access tokens in memory: the verifier consults this on every call, so it must never
 * wait on storage. Storage keeps each revocation until the token would have expired anyway
 * (RFC 7009 §2: afterwards the token is invalid by itself), then it is purged.
 *
 * Memory is bounded per client. A client may mint and revoke its own tokens as fast as its rate
 * limit allows, and each revocation lives as long as the token would have, so a list by jti
 * alone grows with whatever one client chooses to do. Once a client holds more than
 * MAX_REVOCATIONS_PER_CLIENT live revocations, they collapse into one cutoff for that client:
 * every token of it expiring no later than the latest one revoked is refused. Tokens of a client
 * get later expiries as they are issued later, so this is a per-client "not before" kept inside
 * this list, derived from the stored revocations alone: no new storage, and every replica and
 * every reload refuses every revoked token. It may also refuse some of the client's tokens that
 * were never revoked (those expiring within the same second as, or before, the latest revoked
 * one) — the safe direction, and only for a client that revokes en masse, which then simply asks
 * for new tokens. Where exactly the cutoff falls depends on the order revocations arrived in, so
 * for such a client replicas may differ on which never-revoked tokens they refuse.
 */

export interface Revocation {
  readonly jti: string;
  readonly clientId: string;
  readonly expireTime: Date;
}

export interface RevocationRepository {
  /** Records the revocation; revoking twice is harmless. */
  saveRevocation(revocation: Revocation): Promise<void>;
  /** Revocations of tokens that have not expired yet. */
  listRevocations(now: Date): Promise<Revocation[]>;
  /** Deletes revocations of tokens that have expired; returns how many. */
  purgeRevocations(now: Date): Promise<number>;
}

/** What the verifier knows of a token when it asks. */
export interface RevocableToken {
  readonly jti: string;
  readonly clientId: string;
  /** Seconds since the epoch. */
  readonly expiresAt: number;
}

/** Live revocations held by jti for one client before they collapse into its cutoff. */
export const MAX_REVOCATIONS_PER_CLIENT = 1_000;

interface ClientRevocations {
  /** jti → expiry (ms since the epoch). */
  readonly byJti: Map<string, number>;
  /** Every token of this client expiring at or before this (ms since the epoch) is revoked; 0 for none. */
  cutoff: number;
}

export class RevocationList {
  private readonly clients = new Map<string, ClientRevocations>();
  private readonly maxPerClient: number;

  constructor(
    private readonly repository: RevocationRepository,
    options: { maxPerClient?: number } = {},
  ) {
    this.maxPerClient = options.maxPerClient ?? MAX_REVOCATIONS_PER_CLIENT;
  }

  /**
   * Adds every stored revocation and forgets the expired ones. Never cleared first: while the
   * query runs, every revoked token must still be refused, and a revocation heard meanwhile
   * (possibly committed after the query's snapshot) must stay. Revocations are never withdrawn,
   * only outlived, so nothing else needs dropping.
   */
  async load(now: Date): Promise<void> {
    const stored = await this.repository.listRevocations(now);
    for (const revocation of stored) this.remember(revocation);
    this.forgetExpired(now);
  }

  isRevoked(token: RevocableToken): boolean {
    const held = this.clients.get(token.clientId);
    if (held === undefined) return false;
    return token.expiresAt * 1000 <= held.cutoff || held.byJti.has(token.jti);
  }

  async revoke(revocation: Revocation): Promise<void> {
    await this.repository.saveRevocation(revocation);
    this.remember(revocation);
  }

  /** Applies a revocation, stored already by this or another replica. */
  remember(revocation: Revocation): void {
    const expiry = revocation.expireTime.getTime();
    let held = this.clients.get(revocation.clientId);
    if (held === undefined) {
      held = { byJti: new Map(), cutoff: 0 };
      this.clients.set(revocation.clientId, held);
    }
    if (expiry <= held.cutoff) return;
    held.byJti.set(revocation.jti, expiry);
    if (held.byJti.size > this.maxPerClient) {
      for (const jtiExpiry of held.byJti.values()) held.cutoff = Math.max(held.cutoff, jtiExpiry);
      held.byJti.clear();
    }
  }

  /** Forgets revocations of expired tokens, in memory and in storage. */
  async purge(now: Date): Promise<number> {
    this.forgetExpired(now);
    return this.repository.purgeRevocations(now);
  }

  private forgetExpired(now: Date): void {
    const cutoff = now.getTime();
    for (const [clientId, held] of this.clients) {
      for (const [jti, expiry] of held.byJti) if (expiry <= cutoff) held.byJti.delete(jti);
      if (held.cutoff <= cutoff) held.cutoff = 0;
      if (held.byJti.size === 0 && held.cutoff === 0) this.clients.delete(clientId);
    }
  }

  /** Revocations held by jti (each cutoff counts as one). */
  get size(): number {
    let size = 0;
    for (const held of this.clients.values()) size += held.byJti.size + (held.cutoff > 0 ? 1 : 0);
    return size;
  }
}
