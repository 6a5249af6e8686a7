/**
 * The federated and delegated grants under load, set up through the admin API of the Tessera
 * being measured: a trusted issuer with pasted keys (so the keys are cached, as they are in
 * steady state) and one workload token per client, reused by every request as a Kubernetes
 * token is; and actors exchanging their callers' tokens under a delegation policy.
 */
import { generateKeyPairSync, sign } from "node:crypto";
import type { AutocannonRequest } from "autocannon";
import { BENCH_SCOPE, basicAuthorization, fetchToken, type AdminApi, type BenchClient } from "./clients.js";
import { postRequests } from "./http-load.js";

const WORKLOAD_ISSUER = "https://workloads.bench.example";
const WORKLOAD_AUDIENCE = "tessera-bench";
const EXCHANGE_TARGET = "https://downstream.bench.example";

async function adminCall(baseUrl: string, token: string, method: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${baseUrl}/tessera.v1.FederationService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${method} failed: ${response.status} ${text}`);
  return JSON.parse(text);
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/** A trusted issuer with one RS256 key, a policy per client, and a workload token per client. */
export async function federationSetup(baseUrl: string, admin: BenchClient, clients: readonly BenchClient[]): Promise<{ requests: AutocannonRequest[] }> {
  const adminToken = await fetchToken(`${baseUrl}/oauth/token`, admin, { scope: "tessera:admin" });
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: "jwk" }), kid: "bench-1", alg: "RS256", use: "sig" };
  await adminCall(baseUrl, adminToken, "CreateTrustedIssuer", {
    trustedIssuer: { issuer: WORKLOAD_ISSUER, jwks: { keys: [jwk] }, audiences: [WORKLOAD_AUDIENCE], allowedAlgorithms: ["RS256"] },
  });
  const now = Math.floor(Date.now() / 1000);
  const assertions: string[] = [];
  for (const client of clients) {
    const subject = `system:serviceaccount:bench:${client.clientId}`;
    await adminCall(baseUrl, adminToken, "CreateFederationPolicy", { federationPolicy: { issuer: WORKLOAD_ISSUER, clientId: client.clientId, subject } });
    const input = `${base64url({ alg: "RS256", kid: "bench-1", typ: "JWT" })}.${base64url({ iss: WORKLOAD_ISSUER, sub: subject, aud: [WORKLOAD_AUDIENCE], iat: now, nbf: now, exp: now + 3600 })}`;
    assertions.push(`${input}.${sign("sha256", Buffer.from(input), privateKey).toString("base64url")}`);
  }
  const requests = assertions.map((assertion) => ({
    method: "POST" as const,
    path: "/oauth/token",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion, scope: BENCH_SCOPE }).toString(),
  }));
  return { requests };
}

/**
 * Actors (new clients allowed the downstream audience) with a delegation policy each; the callers
 * are the given clients, whose tokens name Tessera's issuer as audience, which the policy
 * accepts as subject tokens. Each request exchanges one caller's token, authenticated by Basic.
 */
export async function delegationSetup(baseUrl: string, admin: BenchClient, api: AdminApi, callers: readonly BenchClient[]): Promise<{ requests: AutocannonRequest[] }> {
  const adminToken = await fetchToken(`${baseUrl}/oauth/token`, admin, { scope: "tessera:admin" });
  const pairs: { actor: BenchClient; subjectToken: string }[] = [];
  for (const [index, caller] of callers.entries()) {
    const actor = await api.createClient({ name: `bench-actor-${index}`, audiences: [EXCHANGE_TARGET] });
    await adminCall(baseUrl, adminToken, "CreateDelegationPolicy", {
      delegationPolicy: { clientId: actor.clientId, subjectAudiences: [baseUrl], audiences: [EXCHANGE_TARGET], scopes: [BENCH_SCOPE] },
    });
    pairs.push({ actor, subjectToken: await fetchToken(`${baseUrl}/oauth/token`, caller) });
  }
  const requests = postRequests("/oauth/token", pairs, ({ actor, subjectToken }) => ({
    authorization: basicAuthorization(actor),
    body: new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      subject_token: subjectToken,
      subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
      audience: EXCHANGE_TARGET,
      scope: BENCH_SCOPE,
    }).toString(),
  }));
  return { requests };
}
