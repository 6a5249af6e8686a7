/**
 * The rules a trusted issuer and a federation policy must meet, and the in-memory directory's
 * reloads, in process: every refusal names its field, defaults are filled in, and a reload asked
 * for while one runs is never lost.
 */
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { defineTrustedIssuer, trustedIssuerInputOf } from "../../src/federation/federation-admin.js";
import { FederationRegistry } from "../../src/federation/federation-registry.js";
import type { FederationSnapshot } from "../../src/federation/federation-repository.js";
import { checkClaimConditions, checkCopiedClaims, checkSubjectPattern } from "../../src/federation/federation-validation.js";
import { TesseraError } from "../../src/errors.js";
import { parseCondition } from "../../src/cli/federation-commands.js";
import { ClaimConditionOperator } from "../../src/gen/tessera/v1/federation_pb.js";

function fieldOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof TesseraError && error.code === "invalid_argument") return error.field;
    throw error;
  }
  return undefined;
}

const ISSUER = "https://token.actions.githubusercontent.com";

describe("defineTrustedIssuer", () => {
  it("fills in the defaults: discovery, every asymmetric algorithm, 24 h lifetime, 60 s tolerance, reuse allowed", () => {
    expect(defineTrustedIssuer({ issuer: ISSUER })).toEqual({
      issuer: ISSUER,
      description: "",
      keySource: { kind: "discovery" },
      audiences: [],
      allowedAlgorithms: ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"],
      maxTokenLifetimeSeconds: 86_400,
      maxTokenAgeSeconds: null,
      clockToleranceSeconds: 60,
      singleUse: false,
      annotations: {},
    });
  });

  it.each([
    [{ allowedAlgorithms: ["none"] }, "allowed_algorithms"],
    [{ allowedAlgorithms: ["HS256"] }, "allowed_algorithms"],
    [{ allowedAlgorithms: ["ES256", "ES256"] }, "allowed_algorithms"],
    [{ jwks: { keys: [{ kty: "oct", k: "c2VjcmV0" }] } }, "jwks.keys[0]"],
    [{ jwks: { keys: [{ ...(generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" }) as object) }] } }, "jwks.keys[0]"],
    [{ jwks: { keys: Array.from({ length: 101 }, () => ({ kty: "EC" })) } }, "jwks"],
    [{ jwks: { keys: [{ kty: "RSA", n: "x".repeat(70_000), e: "AQAB" }] } }, "jwks"],
    [{ jwks: { notKeys: [] } }, "jwks"],
    [{ jwksUri: "https://a.test/jwks", spiffe: { trustDomain: "a.test", bundleEndpoint: "https://a.test/b", bundle: null } }, "spiffe"],
    [{ spiffe: { trustDomain: "Not A Domain", bundleEndpoint: "https://a.test/b", bundle: null } }, "spiffe.trust_domain"],
    [{ maxTokenLifetimeSeconds: 0 }, "max_token_lifetime"],
    [{ maxTokenLifetimeSeconds: 7 * 86_400 + 1 }, "max_token_lifetime"],
    [{ maxTokenAgeSeconds: 0 }, "max_token_age"],
    [{ clockToleranceSeconds: 301 }, "clock_tolerance"],
    [{ audiences: Array.from({ length: 33 }, (_, i) => `a${i}`) }, "audiences"],
  ])("refuses %j naming %s", (fields, field) => {
    expect(fieldOf(() => defineTrustedIssuer({ issuer: ISSUER, ...fields }))).toBe(field);
  });

  it.each(["", "github", "ftp://issuer.test", "https://user:pw@issuer.test", "https://issuer.test/#x", "https://issuer.test/?a=b", `https://${"a".repeat(510)}.test`])(
    "refuses the issuer %j",
    (issuer) => {
      expect(fieldOf(() => defineTrustedIssuer({ issuer }))).toBe("issuer");
    },
  );

  it("round-trips through the admin's input shape, so an update merges onto what is stored", () => {
    const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-384" });
    const defined = defineTrustedIssuer({
      issuer: ISSUER,
      spiffe: { trustDomain: "prod.acme.test", bundleEndpoint: "", bundle: { keys: [publicKey.export({ format: "jwk" }) as never] } },
      clockToleranceSeconds: 0,
      maxTokenAgeSeconds: 600,
    });
    const stored = { ...defined, revision: 1, createTime: new Date(), updateTime: new Date() };
    expect(defineTrustedIssuer(trustedIssuerInputOf(stored))).toEqual(defined);
  });
});

describe("federation policy rules", () => {
  it("refuses a subject that matches everyone, and allows globs that name part of it", () => {
    expect(fieldOf(() => checkSubjectPattern("*"))).toBe("subject");
    expect(fieldOf(() => checkSubjectPattern("**"))).toBe("subject");
    expect(fieldOf(() => checkSubjectPattern("a".repeat(513)))).toBe("subject");
    expect(fieldOf(() => checkSubjectPattern("repo:acme/*:ref:refs/heads/main"))).toBeUndefined();
  });

  it("lets sub be copied but no other reserved claim", () => {
    expect(fieldOf(() => checkCopiedClaims(["sub", "repository_owner_id", "kubernetes.io.namespace"]))).toBeUndefined();
    for (const claim of ["scope", "act", "aud", "client_id"]) expect(fieldOf(() => checkCopiedClaims([claim]))).toBe("copied_claims");
    expect(fieldOf(() => checkCopiedClaims(Array.from({ length: 33 }, (_, i) => `c${i}`)))).toBe("copied_claims");
  });

  it("names the condition at fault", () => {
    expect(fieldOf(() => checkClaimConditions([{ claim: "a", operator: "equals", values: ["x"] }, { claim: "b..c", operator: "equals", values: ["x"] }]))).toBe(
      "claim_conditions[1].claim",
    );
    expect(fieldOf(() => checkClaimConditions([{ claim: "a", operator: "one_of", values: [] }]))).toBe("claim_conditions[0].values");
    expect(fieldOf(() => checkClaimConditions([{ claim: "a", operator: "glob", values: ["x", "y"] }]))).toBe("claim_conditions[0].values");
  });
});

describe("tessera federation-policy --condition", () => {
  it.each([
    ["kubernetes.io.namespace=payments", { claim: "kubernetes.io.namespace", operator: ClaimConditionOperator.EQUALS, values: ["payments"] }],
    ["job_workflow_ref~=acme/*@refs/heads/main", { claim: "job_workflow_ref", operator: ClaimConditionOperator.GLOB, values: ["acme/*@refs/heads/main"] }],
    ["repository_owner_id in 1, 2,3", { claim: "repository_owner_id", operator: ClaimConditionOperator.ONE_OF, values: ["1", "2", "3"] }],
    ["ref=a=b", { claim: "ref", operator: ClaimConditionOperator.EQUALS, values: ["a=b"] }],
  ])("reads %j", (text, condition) => {
    expect(parseCondition(text)).toEqual(condition);
  });

  it("refuses text that is none of the three forms", () => {
    expect(() => parseCondition("just-a-claim")).toThrow(/--condition must be/);
  });
});

describe("FederationRegistry", () => {
  const empty: FederationSnapshot = { trustedIssuers: [], federationPolicies: [], delegationPolicies: [] };

  it("reloads once more when asked while a load runs, so a change committed meanwhile is seen", async () => {
    let release: () => void = () => {};
    let loads = 0;
    const snapshots: FederationSnapshot[] = [
      empty,
      {
        ...empty,
        trustedIssuers: [{ ...defineTrustedIssuer({ issuer: ISSUER }), revision: 1, createTime: new Date(), updateTime: new Date() }],
      },
    ];
    const registry = new FederationRegistry({
      repository: {
        loadAll: async () => {
          const snapshot = snapshots[Math.min(loads++, 1)]!;
          if (loads === 1) await new Promise<void>((resolve) => (release = resolve));
          return snapshot;
        },
      },
    });
    const first = registry.load();
    const second = registry.load();
    release();
    await Promise.all([first, second]);
    expect(loads).toBe(2);
    expect(registry.trustedIssuer(ISSUER)?.issuer).toBe(ISSUER);
  });

  it("orders each issuer's policies by creation, then id", async () => {
    const policy = (id: string, time: number) => ({
      id,
      issuer: ISSUER,
      clientId: "c",
      subject: "s",
      claimConditions: [],
      copiedClaims: [],
      description: "",
      annotations: {},
      revision: 1,
      createTime: new Date(time),
      updateTime: new Date(time),
    });
    const registry = new FederationRegistry({
      repository: { loadAll: async () => ({ ...empty, federationPolicies: [policy("fp_b", 2), policy("fp_c", 1), policy("fp_a", 2)] }) },
    });
    await registry.load();
    expect(registry.federationPoliciesOf(ISSUER).map((entry) => entry.id)).toEqual(["fp_c", "fp_a", "fp_b"]);
    expect(registry.federationPoliciesOf("https://other.test")).toEqual([]);
  });
});
