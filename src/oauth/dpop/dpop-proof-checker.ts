/**
 * The server's check of a DPoP proof (RFC 9449 §4.3), shared by the token endpoint and by
 * introspection / AuthenticateToken: the pure checks of keys/dpop-proof.ts (the same ones the
 * published verifier runs), then the `jti` remembered on every replica through the assertion
 * replay guard (memory first, then storage), and refusals as TesseraErrors.
 */
import { TesseraError } from "../../errors.js";
import { DPOP_PROOF_WINDOW_SECONDS, DpopNonces, DpopProofError, verifyDpopProof, type VerifiedDpopProof } from "../../keys/dpop-proof.js";
import type { ReplayVerdict } from "../client-authentication/assertion-replay-guard.js";

export interface DpopProofCheckerOptions {
  /** Remembers `dpop\0<jkt>\0<jti>` keys until the proof's window ends, on every replica. */
  readonly replayGuard: { remember(key: string, expiresAt: Date): Promise<ReplayVerdict> };
  /** When set, every proof must carry one of its nonces (RFC 9449 §8). */
  readonly nonces?: DpopNonces | undefined;
  readonly now: () => Date;
}

/** What a proof must match beyond its own consistency. */
export interface DpopExpectations {
  readonly method: string;
  readonly url: string;
  /** At a resource: the access token (`ath`) and its `cnf.jkt`. */
  readonly accessToken?: string | undefined;
  readonly jkt?: string | undefined;
}

export class DpopProofChecker {
  constructor(private readonly options: DpopProofCheckerOptions) {}

  /** Whether proofs need a server nonce (for the metadata and for challenges). */
  get noncesRequired(): boolean {
    return this.options.nonces !== undefined;
  }

  /** A nonce to hand out, when nonces are required. */
  currentNonce(): string | undefined {
    return this.options.nonces?.current();
  }

  async check(proof: string, expected: DpopExpectations): Promise<VerifiedDpopProof> {
    const now = this.options.now().getTime();
    let verified: VerifiedDpopProof;
    try {
      verified = await verifyDpopProof(proof, { ...expected, now: Math.floor(now / 1000), nonces: this.options.nonces });
    } catch (error) {
      if (!(error instanceof DpopProofError)) throw error;
      throw new TesseraError(error.error, error.description, undefined, undefined, error.error === "use_dpop_nonce" ? this.options.nonces?.current() : undefined);
    }
    // RFC 9449 §11.1: a proof is remembered for as long as its iat is accepted.
    const expiresAt = new Date(Math.max(now, verified.iat * 1000) + DPOP_PROOF_WINDOW_SECONDS * 1000);
    const verdict = await this.options.replayGuard.remember(`dpop\0${verified.jkt}\0${verified.jti}`, expiresAt);
    if (verdict === "replayed") throw new TesseraError("invalid_dpop_proof", "the DPoP proof was already used");
    if (verdict === "full") throw new TesseraError("temporarily_unavailable", "too many DPoP proofs in flight; retry shortly");
    return verified;
  }
}
