/**
 * From a verified external assertion to the Tessera client it stands for: the issuer's
 * federation policies that the assertion satisfies, among those naming a usable client. One
 * client must come out: the one the request names (`client_id`, or the client that
 * authenticated), or the only one matching. Shared by the jwt-bearer grant, the token exchange
 * of external tokens and client authentication by a federated assertion.
 */
import type { ClientRecord } from "../clients/client.js";
import type { ClientRegistry } from "../clients/client-registry.js";
import {
  FederationRefusal,
  type AssertionProfile,
  type FederatedAssertionVerifier,
  type FederationRefusalReason,
  type VerifiedAssertion,
} from "../federation/federated-assertion.js";
import type { FederationDirectory, FederationPolicy } from "../federation/federation.js";
import { copiedClaims, matchingPolicies } from "../federation/federation-policy-match.js";
import { isUsable } from "./client-authentication/client-authenticator.js";
import type { FederatedAssertionKind, FederatedClientAuthentication } from "./client-authentication/context.js";

/** The way an assertion came in, as audit and metrics name it. */
export type FederatedWay = "jwt_bearer" | "token_exchange" | "client_assertion" | "spiffe_client_assertion";

/** What is recorded of every federated issuance or authentication (never the token itself). */
export interface FederatedIssuanceEvent {
  readonly way: FederatedWay;
  readonly issuer: string;
  readonly subject: string;
  readonly policyId: string;
  readonly clientId: string;
}

/** Told of every outcome, off the request path: audit and metrics. */
export interface FederationObserver {
  issued(event: FederatedIssuanceEvent): void;
  /** `issuer` is a configured issuer's id, or undefined when the assertion named none we trust. */
  refused(way: FederatedWay, issuer: string | undefined, reason: FederationRefusalReason): void;
}

export interface FederatedMatch {
  readonly record: ClientRecord;
  readonly policy: FederationPolicy;
  readonly assertion: VerifiedAssertion;
  /** The allowlisted incoming claims, for the client's claims template. */
  readonly assertionClaims: Readonly<Record<string, unknown>>;
}

export class FederatedClients {
  constructor(
    private readonly options: {
      readonly verifier: Pick<FederatedAssertionVerifier, "verify">;
      readonly directory: Pick<FederationDirectory, "federationPoliciesOf">;
      readonly registry: Pick<ClientRegistry, "find">;
      readonly now: () => Date;
      readonly observer?: FederationObserver | undefined;
    },
  ) {}

  /** The client the assertion stands for, or a `FederationRefusal` (invalid_grant). */
  async resolve(assertion: string, profile: AssertionProfile, way: FederatedWay, namedClientId: string | undefined): Promise<FederatedMatch> {
    try {
      const verified = await this.options.verifier.verify(assertion, profile);
      return this.match(verified, namedClientId);
    } catch (error) {
      if (error instanceof FederationRefusal) this.options.observer?.refused(way, error.issuer, error.reason);
      throw error;
    }
  }

  /** Records a successful federated issuance or authentication. */
  issued(way: FederatedWay, match: FederatedMatch): void {
    this.options.observer?.issued({
      way,
      issuer: match.assertion.issuer.issuer,
      subject: match.assertion.subject,
      policyId: match.policy.id,
      clientId: match.record.client.id,
    });
  }

  private match(verified: VerifiedAssertion, namedClientId: string | undefined): FederatedMatch {
    const issuer = verified.issuer.issuer;
    const now = this.options.now();
    // Policies of unknown, inactive or expired clients do not match: deactivating a client stops
    // its federated issuance as soon as this replica's registry hears of it.
    const usable: { policy: FederationPolicy; record: ClientRecord }[] = [];
    for (const policy of matchingPolicies(this.options.directory.federationPoliciesOf(issuer), verified.subject, verified.claims)) {
      const record = this.options.registry.find(policy.clientId);
      if (record && isUsable(record, now)) usable.push({ policy, record });
    }
    let chosen: { policy: FederationPolicy; record: ClientRecord } | undefined;
    if (namedClientId !== undefined) {
      chosen = usable.find((candidate) => candidate.record.client.id === namedClientId);
      if (!chosen) throw new FederationRefusal("no_matching_policy", "no federation policy of the named client matches the assertion", issuer);
    } else {
      const clients = new Set(usable.map((candidate) => candidate.record.client.id));
      if (clients.size === 0) throw new FederationRefusal("no_matching_policy", "no federation policy matches the assertion", issuer);
      if (clients.size > 1) {
        throw new FederationRefusal("client_not_named", "the assertion matches policies of several clients; the request must name client_id", issuer);
      }
      chosen = usable[0]!;
    }
    return { ...chosen, assertion: verified, assertionClaims: copiedClaims(chosen.policy, verified.claims) };
  }
}

/**
 * Client authentication by a federated assertion, for the authenticator's methods: the
 * assertion is checked as for a grant (the SPIFFE profile with its own audience rule) and the
 * client found through its policies. The authenticator then checks the client's status and
 * applies its rate limit, as for any method.
 */
export class FederatedClientAuthenticator implements FederatedClientAuthentication {
  constructor(
    private readonly clients: Pick<FederatedClients, "resolve" | "issued">,
    private readonly directory: Pick<FederationDirectory, "trustedIssuer">,
  ) {}

  isTrustedIssuer(iss: string): boolean {
    return this.directory.trustedIssuer(iss) !== undefined;
  }

  async authenticate(assertion: string, kind: FederatedAssertionKind, clientId: string | undefined): Promise<ClientRecord> {
    const profile = kind === "spiffe" ? "spiffe_client_assertion" : "client_assertion";
    const way = kind === "spiffe" ? "spiffe_client_assertion" : "client_assertion";
    const match = await this.clients.resolve(assertion, profile, way, clientId);
    this.clients.issued(way, match);
    return match.record;
  }
}
