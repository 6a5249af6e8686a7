/**
 * The token endpoint (RFC 6749 §3.2), shared by POST /oauth/token and TokenService.IssueToken,
 * as named steps: availability → client authentication (as the grant asks) → grant →
 * extensions → response. Grants are dispatched by grant type through a map.
 */
import type { ClientRecord } from "../../clients/client.js";
import { TesseraError } from "../../errors.js";
import type { AccessTokenInput, AccessTokenIssuer, IssuedAccessToken } from "../access-token-issuer.js";
import type { ClientAuthenticator } from "../client-authentication/client-authenticator.js";
import type { JwtClaims } from "../../keys/jwt.js";
import type { Grant, GrantContext } from "./grant.js";
import type { TokenExtension } from "./token-extension.js";
import type { TokenRequest } from "./token-request.js";
import type { TokenResponse } from "./token-response.js";

export interface TokenEndpointOptions {
  authenticator: Pick<ClientAuthenticator, "authenticate"> & Partial<Pick<ClientAuthenticator, "presentsAuthentication">>;
  issuer: Pick<AccessTokenIssuer, "issue">;
  grants: readonly Grant[];
  /** Run in this order after every grant; none by default. */
  extensions?: readonly TokenExtension[];
  /** Refuses service when in-memory state can no longer be trusted (database gone too long). */
  availability?: { assertFresh(): void };
  /** Told of every token issued, once, whichever transport asked: for metrics. */
  onIssued?: (response: TokenResponse) => void;
}

export class TokenEndpoint {
  private readonly grants: ReadonlyMap<string, Grant>;
  private readonly extensions: readonly TokenExtension[];
  private readonly signing: AccessTokenSigning;

  constructor(private readonly options: TokenEndpointOptions) {
    const grants = new Map<string, Grant>();
    for (const grant of options.grants) {
      if (grants.has(grant.grantType)) throw new Error(`grant ${grant.grantType} is registered twice`);
      grants.set(grant.grantType, grant);
    }
    this.grants = grants;
    this.extensions = options.extensions ?? [];
    this.signing = { issuer: options.issuer, extensions: this.extensions };
  }

  get grantTypes(): string[] {
    return [...this.grants.keys()];
  }

  async issue(request: TokenRequest): Promise<TokenResponse> {
    this.options.availability?.assertFresh();
    const grant = this.grantFor(request);
    // The secret methods answer at once: no await, so no turn of the microtask queue, for them.
    const authenticated = this.authenticateClient(grant, request);
    const client = authenticated instanceof Promise ? await authenticated : authenticated;
    const context = new PipelineContext(this.signing, request, client);
    let response = await grant.handle(context);
    for (const extension of this.extensions) {
      if (extension.response) response = extension.response(context, response);
    }
    this.options.onIssued?.(response);
    return response;
  }

  private grantFor(request: TokenRequest): Grant {
    if (!request.grantType) throw new TesseraError("invalid_request", "grant_type is required");
    const grant = this.grants.get(request.grantType);
    if (!grant) throw new TesseraError("unsupported_grant_type", "grant_type is not supported");
    return grant;
  }

  private authenticateClient(grant: Grant, request: TokenRequest): ClientRecord | Promise<ClientRecord> | undefined {
    switch (grant.clientAuthentication) {
      case "required":
        return this.options.authenticator.authenticate(request.credentials, request.origin);
      case "optional":
        return request.credentials && (this.options.authenticator.presentsAuthentication?.(request.credentials) ?? true)
          ? this.options.authenticator.authenticate(request.credentials, request.origin)
          : undefined;
      case "grant":
        return undefined;
    }
  }
}

/** What signing an access token takes: the issuer, after the extensions' claims step. */
interface AccessTokenSigning {
  readonly issuer: Pick<AccessTokenIssuer, "issue">;
  readonly extensions: readonly TokenExtension[];
}

/** One request's context: what the grant and the extensions see. */
class PipelineContext implements GrantContext {
  constructor(
    private readonly signing: AccessTokenSigning,
    readonly request: TokenRequest,
    readonly client: ClientRecord | undefined,
  ) {}

  issueAccessToken(input: AccessTokenInput): Promise<IssuedAccessToken> {
    const { issuer, extensions } = this.signing;
    if (extensions.length === 0) return issuer.issue(input);
    // Extensions that answer at once (a request without the proof they look for) are asked
    // without an async frame: the token's promise is then the issuer's own, and every pending
    // request holds one generator and one promise fewer while its signature is made.
    let claims = input.claims;
    try {
      for (let index = 0; index < extensions.length; index++) {
        const answer = extensions[index]!.accessTokenClaims?.(this, input);
        if (answer instanceof Promise) return this.issueExtended(input, claims, index, answer);
        if (answer) claims = withClaims(claims, answer);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    return claims === input.claims ? issuer.issue(input) : this.issueWithClaims(input, claims);
  }

  /** The rest of issueAccessToken once extension `index` answered with a promise. */
  private async issueExtended(
    input: AccessTokenInput,
    claimsSoFar: Readonly<JwtClaims> | undefined,
    index: number,
    pending: Promise<JwtClaims | undefined>,
  ): Promise<IssuedAccessToken> {
    const { extensions } = this.signing;
    let claims = claimsSoFar;
    let added = await pending;
    if (added) claims = withClaims(claims, added);
    for (let next = index + 1; next < extensions.length; next++) {
      const answer = extensions[next]!.accessTokenClaims?.(this, input);
      // Only an answer still pending is awaited: each await is a turn of the microtask queue.
      added = answer instanceof Promise ? await answer : answer;
      if (added) claims = withClaims(claims, added);
    }
    return claims === input.claims ? this.signing.issuer.issue(input) : this.issueWithClaims(input, claims);
  }

  private async issueWithClaims(input: AccessTokenInput, claims: Readonly<JwtClaims> | undefined): Promise<IssuedAccessToken> {
    const issued = await this.signing.issuer.issue({ ...input, claims });
    const cnf = claims?.cnf;
    return isClaimsObject(cnf) ? { ...issued, cnf } : issued;
  }
}

/**
 * Adds an extension's claims. RFC 7800 §3.1 `cnf` is one object with a member per kind of key
 * (`jkt`, `x5t#S256`): two extensions binding the token to two proofs both land in it.
 */
function withClaims(claims: Readonly<JwtClaims> | undefined, added: JwtClaims): JwtClaims {
  const merged: JwtClaims = { ...claims, ...added };
  const before = claims?.cnf;
  if (isClaimsObject(before) && isClaimsObject(added.cnf)) merged.cnf = { ...before, ...added.cnf };
  return merged;
}

function isClaimsObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
