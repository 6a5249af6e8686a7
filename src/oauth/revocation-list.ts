/**
 * Revoked access tokens, by jti, in memory: the verifier consults this on every call, so it must
 * never wait on storage. Storage keeps each revocation until the token would have expired
 * anyway (RFC 7009 §2: afterwards the token is invalid by itself), then it is purged.
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

export class RevocationList {
  private readonly expiries = new Map<string, number>();

  constructor(private readonly repository: RevocationRepository) {}

  /**
   * Adds every stored revocation and forgets the expired ones. Never cleared first: while the
   * query runs, every revoked token must still be refused, and a revocation heard meanwhile
   * (possibly committed after the query's snapshot) must stay. Revocations are never withdrawn,
   * only outlived, so nothing else needs dropping.
   */
  async load(now: Date): Promise<void> {
    const stored = await this.repository.listRevocations(now);
    for (const revocation of stored) this.expiries.set(revocation.jti, revocation.expireTime.getTime());
    this.forgetExpired(now);
  }

  isRevoked(jti: string): boolean {
    return this.expiries.has(jti);
  }

  async revoke(revocation: Revocation): Promise<void> {
    await this.repository.saveRevocation(revocation);
    this.expiries.set(revocation.jti, revocation.expireTime.getTime());
  }

  /** Applies a revocation another replica already stored. */
  remember(jti: string, expireTime: Date): void {
    this.expiries.set(jti, expireTime.getTime());
  }

  /** Forgets revocations of expired tokens, in memory and in storage. */
  async purge(now: Date): Promise<number> {
    this.forgetExpired(now);
    return this.repository.purgeRevocations(now);
  }

  private forgetExpired(now: Date): void {
    const cutoff = now.getTime();
    for (const [jti, expiry] of this.expiries) if (expiry <= cutoff) this.expiries.delete(jti);
  }

  get size(): number {
    return this.expiries.size;
  }
}
