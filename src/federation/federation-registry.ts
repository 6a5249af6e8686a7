/**
 * The in-memory FederationDirectory the token path reads: every trusted issuer and policy,
 * loaded at start and reloaded whole whenever any replica announces a federation change (and on
 * the periodic and on-reconnect resyncs). These are operator-managed tables of a few rows, so a
 * whole reload is cheaper to reason about than per-row refreshes, and it is atomic: a reader sees
 * the old directory or the new one, never a mix.
 */
import type { DelegationPolicy, FederationDirectory, FederationPolicy, TrustedIssuer } from "./federation.js";
import type { FederationRepository, FederationSnapshot } from "./federation-repository.js";

interface Indexed {
  readonly issuers: ReadonlyMap<string, TrustedIssuer>;
  readonly issuersByTrustDomain: ReadonlyMap<string, TrustedIssuer>;
  readonly policiesByIssuer: ReadonlyMap<string, readonly FederationPolicy[]>;
  readonly delegationsByClient: ReadonlyMap<string, readonly DelegationPolicy[]>;
}

const EMPTY: Indexed = { issuers: new Map(), issuersByTrustDomain: new Map(), policiesByIssuer: new Map(), delegationsByClient: new Map() };

export class FederationRegistry implements FederationDirectory {
  private indexed: Indexed = EMPTY;
  private loading: Promise<void> | undefined;
  private reloadRequested = false;

  constructor(private readonly options: { repository: Pick<FederationRepository, "loadAll"> }) {}

  trustedIssuer(issuer: string): TrustedIssuer | undefined {
    return this.indexed.issuers.get(issuer);
  }

  spiffeTrustDomain(trustDomain: string): TrustedIssuer | undefined {
    return this.indexed.issuersByTrustDomain.get(trustDomain);
  }

  federationPoliciesOf(issuer: string): readonly FederationPolicy[] {
    return this.indexed.policiesByIssuer.get(issuer) ?? [];
  }

  delegationPoliciesOf(clientId: string): readonly DelegationPolicy[] {
    return this.indexed.delegationsByClient.get(clientId) ?? [];
  }

  /**
   * Reads everything again. A call while a load runs schedules one more load after it, so a
   * change committed after the running load's read is never missed; further calls share that one.
   */
  load(): Promise<void> {
    if (this.loading) {
      this.reloadRequested = true;
      return this.loading;
    }
    this.loading = (async () => {
      try {
        do {
          this.reloadRequested = false;
          this.indexed = index(await this.options.repository.loadAll());
        } while (this.reloadRequested);
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }
}

function index(snapshot: FederationSnapshot): Indexed {
  const issuers = new Map(snapshot.trustedIssuers.map((issuer) => [issuer.issuer, issuer]));
  // Should two issuers name the same trust domain, the first in the snapshot's order answers.
  const issuersByTrustDomain = new Map<string, TrustedIssuer>();
  for (const issuer of snapshot.trustedIssuers) {
    const source = issuer.keySource;
    if (source.kind === "spiffe" && !issuersByTrustDomain.has(source.trustDomain)) issuersByTrustDomain.set(source.trustDomain, issuer);
  }
  const policiesByIssuer = new Map<string, FederationPolicy[]>();
  for (const policy of [...snapshot.federationPolicies].sort(byCreation)) {
    const list = policiesByIssuer.get(policy.issuer) ?? [];
    list.push(policy);
    policiesByIssuer.set(policy.issuer, list);
  }
  const delegationsByClient = new Map<string, DelegationPolicy[]>();
  for (const policy of [...snapshot.delegationPolicies].sort(byCreation)) {
    const list = delegationsByClient.get(policy.clientId) ?? [];
    list.push(policy);
    delegationsByClient.set(policy.clientId, list);
  }
  return { issuers, issuersByTrustDomain, policiesByIssuer, delegationsByClient };
}

/** A stable order: creation time, then id. */
function byCreation(a: { createTime: Date; id: string }, b: { createTime: Date; id: string }): number {
  return a.createTime.getTime() - b.createTime.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
