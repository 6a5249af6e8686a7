/**
 * What a valid Tessera access token is (RFC 9068): the profile the issuer mints, the server's
 * verifier (introspection, Bearer calls to the admin API) checks, and the published
 * `tessera/verifier` checks in resource servers. It imports nothing, so the published library
 * can use it without loading any of the server.
 */

/**
 * RFC 9068 §2.1: the `typ` header Tessera writes, the media type application/at+jwt in the short
 * form RFC 7515 §4.1.9 recommends.
 */
export const ACCESS_TOKEN_TYP = "at+jwt";

/** RFC 9068 §4: the `typ` spellings a verifier accepts, the short form and the full media type. */
export const ACCEPTED_ACCESS_TOKEN_TYPS: readonly string[] = [ACCESS_TOKEN_TYP, `application/${ACCESS_TOKEN_TYP}`];

/** The JWS algorithms Tessera signs access tokens with (RFC 7518 §3, RFC 8037 §3.1); nothing else verifies. */
export const ACCESS_TOKEN_SIGNING_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"] as const;

/** RFC 9068 §2.2: the claims every access token carries (`scope` and `nbf` beside them, and custom claims). */
export const REQUIRED_ACCESS_TOKEN_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"] as const;

/**
 * Between Tessera replicas: how far a token's nbf (or, without nbf, its iat) may lie in the
 * future, so a token minted by a replica whose clock runs slightly ahead is accepted at once.
 */
export const REPLICA_CLOCK_SKEW_SECONDS = 5;

/**
 * In a resource server (the published verifier's default): the clock difference tolerated for
 * exp, nbf and iat, wider because its clock is not kept with Tessera's.
 */
export const RESOURCE_SERVER_CLOCK_TOLERANCE_SECONDS = 30;
