/**
 * What a token obtained by token exchange carries about where it came from:
 *
 * - `act` (RFC 8693 §4.1): who acts, nesting the earlier actors, for resource servers to read;
 * - `tessera_chain`: the tokens it was derived from, oldest first (id, client, issue and expiry
 *   times), so that the server's verifier refuses it as soon as any of them is revoked or any of
 *   their clients is deactivated — from memory, on every replica, without a database read.
 *
 * Both are set only by the token-exchange grant; client claims templates cannot set them.
 */
import type { JwtClaims } from "../keys/jwt.js";

/** RFC 8693 §4.1 `act`: the current actor, and the one before it in `actor`. */
export interface Actor {
  /** The actor's `sub`: for Tessera actors, their client id. */
  readonly subject: string;
  readonly actor?: Actor | undefined;
}

/** One token a derived token came from. */
export interface TokenAncestor {
  readonly jti: string;
  readonly clientId: string;
  /** `iat`, seconds since the epoch: with the jti, when the token was issued (the client cut-off compares it). */
  readonly issuedAt: number;
  /** `exp`, seconds since the epoch: revocations are kept until then. */
  readonly expiresAt: number;
}

export const ACT_CLAIM = "act";
export const CHAIN_CLAIM = "tessera_chain";

/**
 * The most entries a chain or `act` nesting may hold to be read at all. The exchange refuses
 * chains beyond its configured depth long before this; this only bounds the work a verifier
 * does for a token it signed.
 */
export const MAX_READABLE_CHAIN_LENGTH = 32;

/** The `act` claim of an actor, as RFC 8693 §4.1 writes it. */
export function actClaim(actor: Actor): JwtClaims {
  return actor.actor ? { sub: actor.subject, act: actClaim(actor.actor) } : { sub: actor.subject };
}

/** How many actors the chain names (0 for none). */
export function actorDepth(actor: Actor | undefined): number {
  let depth = 0;
  for (let current = actor; current; current = current.actor) depth++;
  return depth;
}

/** The actors' subjects, the current actor first. */
export function actorSubjects(actor: Actor | undefined): string[] {
  const subjects: string[] = [];
  for (let current = actor; current; current = current.actor) subjects.push(current.subject);
  return subjects;
}

/**
 * The `act` claim read: undefined when absent, null when malformed (not an object with a string
 * `sub`, or nested beyond what is readable). Other members an actor object may carry (RFC 8693
 * §4.1 allows `iss` and more) are not kept.
 */
export function readActClaim(value: unknown): Actor | undefined | null {
  if (value === undefined) return undefined;
  const subjects: string[] = [];
  let current: unknown = value;
  while (current !== undefined) {
    if (typeof current !== "object" || current === null || Array.isArray(current)) return null;
    const { sub, act } = current as Record<string, unknown>;
    if (typeof sub !== "string" || sub === "") return null;
    subjects.push(sub);
    if (subjects.length > MAX_READABLE_CHAIN_LENGTH) return null;
    current = act;
  }
  let actor: Actor | undefined;
  for (let index = subjects.length - 1; index >= 0; index--) actor = { subject: subjects[index]!, actor };
  return actor;
}

/** The chain claim written: short member names, as it rides in every derived token. */
export function chainClaim(chain: readonly TokenAncestor[]): JwtClaims[] {
  return chain.map((ancestor) => ({ jti: ancestor.jti, client_id: ancestor.clientId, iat: ancestor.issuedAt, exp: ancestor.expiresAt }));
}

/** The chain claim read: empty when absent, null when malformed. */
export function readChainClaim(value: unknown): readonly TokenAncestor[] | null {
  if (value === undefined) return NO_ANCESTORS;
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_READABLE_CHAIN_LENGTH) return null;
  const chain: TokenAncestor[] = [];
  for (const entry of value as unknown[]) {
    if (typeof entry !== "object" || entry === null) return null;
    const { jti, client_id: clientId, iat, exp } = entry as Record<string, unknown>;
    if (typeof jti !== "string" || typeof clientId !== "string" || typeof iat !== "number" || typeof exp !== "number") return null;
    chain.push({ jti, clientId, issuedAt: iat, expiresAt: exp });
  }
  return chain;
}

export const NO_ANCESTORS: readonly TokenAncestor[] = Object.freeze([]);
