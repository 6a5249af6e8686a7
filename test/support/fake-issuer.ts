/**
 * A workload identity issuer for tests: an HTTP or HTTPS server (self-signed, so callers trust
 * its `ca`, as NODE_EXTRA_CA_CERTS would) serving OIDC discovery and a JWKS (also usable as a
 * SPIFFE bundle), and minting tokens shaped as the real ones are: Kubernetes projected
 * service-account tokens, GitHub Actions OIDC tokens and SPIFFE JWT-SVIDs. Its key can rotate.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { selfSignedCertificate } from "./tls.js";

type SigningKey = { kid: string; privateKey: CryptoKey; jwk: JWK };

export interface FakeIssuer {
  /** The `iss` of its tokens: its own URL, as discovery requires (OIDC Discovery §4.3). */
  readonly issuer: string;
  readonly jwksUri: string;
  /** Its certificate, when it serves HTTPS. */
  readonly ca: Buffer | undefined;
  /** Requests served, by path. */
  readonly requests: Map<string, number>;
  /** The key now signing (and published); the previous ones stay published. */
  readonly kid: string;
  kubernetesToken(options: { namespace: string; serviceAccount: string; audience: string | string[]; lifetimeSeconds?: number }): Promise<string>;
  githubActionsToken(options: { repository: string; ref?: string; ownerId?: string; audience: string; environment?: string }): Promise<string>;
  spiffeSvid(options: { trustDomain: string; path: string; audience: string | string[]; withIssuer?: boolean }): Promise<string>;
  /** A token with the given claims and header, for the checks a test wants to fail. */
  sign(claims: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
  /** A new signing key, published beside the old ones; `retire` drops the old ones from the JWKS. */
  rotateKey(options?: { retire?: boolean }): Promise<void>;
  close(): Promise<void>;
}

export async function startFakeIssuer(options: { tls?: boolean; alg?: "RS256" | "ES256" } = {}): Promise<FakeIssuer> {
  const alg = options.alg ?? "RS256";
  const keys: SigningKey[] = [await newKey(alg)];
  const requests = new Map<string, number>();
  const certificate = options.tls ? selfSignedCertificate() : undefined;
  let issuer = "";

  const handler = (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? "/").split("?")[0]!;
    requests.set(path, (requests.get(path) ?? 0) + 1);
    const json = (body: unknown) => {
      response.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=300" });
      response.end(JSON.stringify(body));
    };
    if (path === "/.well-known/openid-configuration") {
      return json({ issuer, jwks_uri: `${issuer}/openid/v1/jwks`, response_types_supported: ["id_token"], subject_types_supported: ["public"], id_token_signing_alg_values_supported: [alg] });
    }
    if (path === "/openid/v1/jwks") return json({ keys: keys.map((key) => key.jwk) });
    // A SPIFFE bundle (SPIFFE Trust Domain and Bundle §4): the same keys, marked for JWT-SVIDs.
    if (path === "/bundle") return json({ keys: keys.map((key) => ({ ...key.jwk, use: "jwt-svid" })), spiffe_sequence: keys.length, spiffe_refresh_hint: 300 });
    response.writeHead(404).end();
  };
  const server: Server = certificate
    ? createHttpsServer({ cert: readFileSync(certificate.env.TESSERA_TLS_CERT), key: readFileSync(certificate.env.TESSERA_TLS_KEY) }, handler)
    : createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  issuer = `${certificate ? "https" : "http"}://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const current = () => keys[keys.length - 1]!;
  const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    new SignJWT(claims).setProtectedHeader({ alg, kid: current().kid, ...header }).sign(current().privateKey);
  const nowSeconds = () => Math.floor(Date.now() / 1000);

  return {
    issuer,
    jwksUri: `${issuer}/openid/v1/jwks`,
    ca: certificate?.ca,
    requests,
    get kid() {
      return current().kid;
    },
    sign,
    kubernetesToken({ namespace, serviceAccount, audience, lifetimeSeconds = 3600 }) {
      const now = nowSeconds();
      // As the kubelet's TokenRequest API mints them (no typ header; aud always an array).
      return sign({
        aud: Array.isArray(audience) ? audience : [audience],
        exp: now + lifetimeSeconds,
        iat: now,
        iss: issuer,
        jti: randomUUID(),
        "kubernetes.io": {
          namespace,
          node: { name: "node-1", uid: randomUUID() },
          pod: { name: `${serviceAccount}-7c9d5`, uid: randomUUID() },
          serviceaccount: { name: serviceAccount, uid: randomUUID() },
        },
        nbf: now,
        sub: `system:serviceaccount:${namespace}:${serviceAccount}`,
      });
    },
    githubActionsToken({ repository, ref = "refs/heads/main", ownerId = "4242", audience, environment }) {
      const now = nowSeconds();
      const [owner] = repository.split("/");
      const workflowRef = `${repository}/.github/workflows/deploy.yml@${ref}`;
      return sign(
        {
          jti: randomUUID(),
          sub: environment ? `repo:${repository}:environment:${environment}` : `repo:${repository}:ref:${ref}`,
          aud: audience,
          ref,
          sha: "3f786850e387550fdab836ed7e6dc881de23001b",
          repository,
          repository_owner: owner,
          repository_owner_id: ownerId,
          repository_id: "74",
          repository_visibility: "private",
          run_id: "5550000001",
          run_number: "12",
          run_attempt: "1",
          actor: "octocat",
          actor_id: "583231",
          workflow: "deploy",
          event_name: "push",
          ref_protected: "true",
          ref_type: "branch",
          workflow_ref: workflowRef,
          workflow_sha: "3f786850e387550fdab836ed7e6dc881de23001b",
          job_workflow_ref: workflowRef,
          job_workflow_sha: "3f786850e387550fdab836ed7e6dc881de23001b",
          runner_environment: "github-hosted",
          ...(environment ? { environment } : {}),
          iss: issuer,
          nbf: now - 5,
          exp: now + 300,
          iat: now,
        },
        { typ: "JWT", x5t: "ykNaY4qM_ta4k2TgZOCEYLkcYlA" },
      );
    },
    spiffeSvid({ trustDomain, path, audience, withIssuer = false }) {
      const now = nowSeconds();
      // SPIFFE JWT-SVID §3: sub, aud and exp required; iss optional.
      return sign(
        { sub: `spiffe://${trustDomain}${path}`, aud: Array.isArray(audience) ? audience : [audience], exp: now + 300, iat: now, ...(withIssuer ? { iss: issuer } : {}) },
        { typ: "JWT" },
      );
    },
    async rotateKey({ retire = false } = {}) {
      const next = await newKey(alg);
      if (retire) keys.splice(0, keys.length);
      keys.push(next);
    },
    async close() {
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      certificate?.remove();
    },
  };
}

async function newKey(alg: "RS256" | "ES256"): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}
