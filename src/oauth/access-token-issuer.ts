/**
 * Minting RFC 9068 access tokens: a JWT with header typ "at+jwt" and the claims iss, sub, aud,
 * exp, iat, nbf, jti, client_id and scope (RFC 9068 §2.2), signed with the active key of the
 * client's algorithm, held in memory.
 */
import type { Client, JsonValue } from "../clients/client.js";
import { TesseraError } from "../errors.js";
import type { SigningAlgorithm } from "../keys/algorithms.js";
import { ACCESS_TOKEN_TYP } from "../keys/access-token-profile.js";
import { encodeJwsHeader, type JwtClaims } from "../keys/jwt.js";
import type { JwsSigner } from "../keys/jws-signer.js";
import { renderCustomClaims, type AssertionClaims } from "../clients/claims-template.js";
import type { KeyRing, LoadedSigningKey } from "../keys/key-ring.js";
import { randomId } from "../random-id.js";

/**
 * A token id: 128 random bits, then the issue time in milliseconds. The verifier compares that
 * time with the client's cut-off (Client.tokensNotBefore): whole-second `iat` cannot tell a
 * token issued just before a deactivation from one issued just after the reactivation in the
 * same second. To everyone else the id stays what RFC 7519 §4.1.7 makes it, an opaque unique string.
 */
function accessTokenId(issuedAtMs: number): string {
  return `${randomId(16)}.${issuedAtMs}`;
}

/**
 * When a token was issued, to the millisecond: from its id when the id carries a time within
 * its `iat` second, otherwise (ids minted before ids carried one) the start of that second.
 */
export function accessTokenIssueTime(claims: { readonly jti: string; readonly iat: number }): number {
  const separator = claims.jti.lastIndexOf(".");
  const stamped = separator < 0 ? Number.NaN : Number(claims.jti.slice(separator + 1));
  const secondStart = claims.iat * 1000;
  return Number.isSafeInteger(stamped) && stamped >= secondStart && stamped < secondStart + 1000 ? stamped : secondStart;
}

export interface IssuedAccessToken {
  readonly token: string;
  readonly jti: string;
  readonly expiresIn: number;
  readonly expireTime: Date;
  readonly alg: SigningAlgorithm;
  /**
   * The token's confirmation (RFC 7800 `cnf`: RFC 9449 §6 `jkt`, RFC 8705 §3 `x5t#S256`) when the
   * token extensions bound it to a key; the refresh token chain binds itself to the same key.
   */
  readonly cnf?: Readonly<Record<string, unknown>> | undefined;
}

/** What a grant asks the issuer to sign. */
export interface AccessTokenInput {
  /** The client the token is issued to: its `client_id`, algorithm, lifetime and claims template. */
  readonly client: Client;
  /** RFC 9068 §2.2 `sub`: the principal the token is about; the client itself when absent (RFC 6749 §4.4). */
  readonly subject?: string | undefined;
  /**
   * Further claims, such as RFC 8693 §4.1 `act` or RFC 9449 §6 / RFC 8705 §3 `cnf`. They win
   * over the client's custom claims; the registered claims the issuer sets always win over them.
   */
  readonly claims?: Readonly<JwtClaims> | undefined;
  readonly scopes: readonly string[];
  readonly audiences: readonly string[];
  /**
   * A cap on the token's lifetime below the client's, e.g. an exchanged token's subject token's
   * remaining lifetime (RFC 8693 §2.2); the shorter one wins.
   */
  readonly maxLifetimeSeconds?: number | undefined;
  /**
   * For a token issued on a federated assertion: the incoming claims the matched policy lets the
   * client's claims template copy (`{{assertion.<claim>}}`); nothing else of the assertion.
   */
  readonly assertionClaims?: AssertionClaims | undefined;
}

export class AccessTokenIssuer {
  /** Each key's encoded JWS header, made once: it is the same for every token the key signs. */
  private readonly encodedHeaders = new WeakMap<LoadedSigningKey, string>();
  /**
   * Each client's rendered claims template, made once: without an assertion it depends only on
   * the client's template and metadata, and a change to the client replaces the whole object.
   */
  private readonly customClaims = new WeakMap<Client, Readonly<Record<string, JsonValue>>>();

  constructor(
    private readonly options: {
      issuer: string;
      keyRing: Pick<KeyRing, "activeKey">;
      signer: Pick<JwsSigner, "sign">;
      defaultAlgorithm: SigningAlgorithm;
      defaultLifetimeSeconds: number;
      maxLifetimeSeconds: number;
      now: () => Date;
    },
  ) {}

  async issue(input: AccessTokenInput): Promise<IssuedAccessToken> {
    const { client } = input;
    const alg = client.signingAlg ?? this.options.defaultAlgorithm;
    const key = this.options.keyRing.activeKey(alg);
    if (!key?.privateKey) {
      // A missing key is an operator problem, not the client's: say so without details.
      throw new TesseraError("temporarily_unavailable", `no active ${alg} signing key`);
    }
    const lifetime = Math.max(
      1,
      Math.min(client.tokenLifetimeSeconds ?? this.options.defaultLifetimeSeconds, this.options.maxLifetimeSeconds, input.maxLifetimeSeconds ?? Number.POSITIVE_INFINITY),
    );
    const issuedAtMs = this.options.now().getTime();
    const issuedAt = Math.floor(issuedAtMs / 1000);
    const jti = accessTokenId(issuedAtMs);
    // RFC 9068 §3: aud is required; a client with no audiences gets tokens for Tessera itself.
    const audiences = input.audiences.length > 0 ? input.audiences : [this.options.issuer];
    const payload = {
      // Custom claims first, then the grant's, so the registered claims below always win.
      ...this.customClaimsOf(client, input.assertionClaims),
      ...input.claims,
      iss: this.options.issuer,
      sub: input.subject ?? client.id,
      aud: audiences.length === 1 ? audiences[0] : audiences,
      exp: issuedAt + lifetime,
      iat: issuedAt,
      nbf: issuedAt,
      jti,
      client_id: client.id,
      scope: input.scopes.join(" "),
    };
    let encodedHeader = this.encodedHeaders.get(key);
    if (encodedHeader === undefined) {
      encodedHeader = encodeJwsHeader({ alg, kid: key.kid, typ: ACCESS_TOKEN_TYP });
      this.encodedHeaders.set(key, encodedHeader);
    }
    const token = await this.options.signer.sign({ alg, encodedHeader, payload, privateKey: key.privateKey });
    return { token, jti, expiresIn: lifetime, expireTime: new Date((issuedAt + lifetime) * 1000), alg };
  }

  private customClaimsOf(client: Client, assertionClaims: AssertionClaims | undefined): Readonly<Record<string, JsonValue>> {
    if (assertionClaims !== undefined) return renderCustomClaims(client.claimsTemplate, client.trustedMetadata, assertionClaims);
    let claims = this.customClaims.get(client);
    if (claims === undefined) {
      claims = renderCustomClaims(client.claimsTemplate, client.trustedMetadata);
      this.customClaims.set(client, claims);
    }
    return claims;
  }
}
