/**
 * Local web servers standing in for an identity provider's discovery document, JWKS or SPIFFE
 * bundle endpoint. HTTPS servers present a certificate for 127.0.0.1 signed by the test CA
 * (test/support/test-ca/), which every test worker trusts through NODE_EXTRA_CA_CERTS
 * (vitest.config.ts), as an operator would make Tessera trust a development cluster's CA.
 * `startFakeIssuer` adds a workload identity issuer on one: discovery, JWKS, SPIFFE bundle, and
 * tokens shaped as Kubernetes, GitHub Actions and SPIRE mint them.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";

const TEST_CA_DIR = new URL("./test-ca/", import.meta.url);

export const TEST_CA_CERT_PATH = new URL("ca.pem", TEST_CA_DIR).pathname;

export type FakeRoute = (request: http.IncomingMessage, response: http.ServerResponse) => void;

export interface FakeServer {
  /** `https://127.0.0.1:<port>` (or http:// for a plain server), without a trailing slash. */
  readonly origin: string;
  /** Requests received, by path. */
  readonly hits: Map<string, number>;
  /** Sets (or replaces) what a path answers. */
  route(path: string, handler: FakeRoute): void;
  /** Answers JSON with an optional Cache-Control. */
  json(path: string, body: unknown, cacheControl?: string): void;
  hitsOf(path: string): number;
  /** Stops answering: every request is cut (connection reset), as when the issuer is down. */
  down(): void;
  up(): void;
  close(): Promise<void>;
}

export async function startFakeServer(options: { tls?: boolean } = {}): Promise<FakeServer> {
  const routes = new Map<string, FakeRoute>();
  const hits = new Map<string, number>();
  let isDown = false;
  const handler = (request: http.IncomingMessage, response: http.ServerResponse) => {
    const path = new URL(request.url ?? "/", "http://x").pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (isDown) {
      request.socket.destroy();
      return;
    }
    const route = routes.get(path);
    if (!route) {
      response.writeHead(404).end();
      return;
    }
    route(request, response);
  };
  const server =
    options.tls === false
      ? http.createServer(handler)
      : https.createServer(
          { cert: readFileSync(new URL("server.pem", TEST_CA_DIR)), key: readFileSync(new URL("server-key.pem", TEST_CA_DIR)) },
          handler,
        );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `${options.tls === false ? "http" : "https"}://127.0.0.1:${port}`,
    hits,
    route: (path, route) => void routes.set(path, route),
    json(path, body, cacheControl) {
      routes.set(path, (_request, response) => {
        response.writeHead(200, { "content-type": "application/json", ...(cacheControl ? { "cache-control": cacheControl } : {}) });
        response.end(JSON.stringify(body));
      });
    },
    hitsOf: (path) => hits.get(path) ?? 0,
    down: () => void (isDown = true),
    up: () => void (isDown = false),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type SigningKey = { kid: string; privateKey: CryptoKey; jwk: JWK };

/** A workload identity issuer on a fake server: discovery, JWKS, SPIFFE bundle, and tokens shaped as real platforms mint them. */
export interface FakeIssuer {
  /** The `iss` of its tokens: its own origin, as discovery requires (OIDC Discovery §4.3). */
  readonly issuer: string;
  readonly jwksUri: string;
  /** Where its keys are served as a SPIFFE bundle (SPIFFE Trust Domain and Bundle §4). */
  readonly bundleEndpoint: string;
  /** The test CA that signed its certificate. */
  readonly ca: Buffer;
  readonly server: FakeServer;
  /** The key now signing; earlier ones stay published until retired. */
  readonly kid: string;
  kubernetesToken(options: { namespace: string; serviceAccount: string; audience: string | string[]; lifetimeSeconds?: number }): Promise<string>;
  githubActionsToken(options: { repository: string; ref?: string; ownerId?: string; audience: string; environment?: string }): Promise<string>;
  spiffeSvid(options: { trustDomain: string; path: string; audience: string | string[]; withIssuer?: boolean }): Promise<string>;
  /** A token with exactly these claims and header members, for the checks a test wants to fail. */
  sign(claims: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
  /** A new signing key, published beside the old ones; `retire` drops the old ones. */
  rotateKey(options?: { retire?: boolean }): Promise<void>;
  close(): Promise<void>;
}

export async function startFakeIssuer(options: { tls?: boolean; alg?: "RS256" | "ES256" } = {}): Promise<FakeIssuer> {
  const alg = options.alg ?? "RS256";
  const keys: SigningKey[] = [await newSigningKey(alg)];
  const server = await startFakeServer({ tls: options.tls ?? true });
  const issuer = server.origin;
  const answer = (body: () => unknown): FakeRoute => (_request, response) => {
    response.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=300" });
    response.end(JSON.stringify(body()));
  };
  server.route("/.well-known/openid-configuration", answer(() => ({ issuer, jwks_uri: `${issuer}/openid/v1/jwks`, response_types_supported: ["id_token"], subject_types_supported: ["public"], id_token_signing_alg_values_supported: [alg] })));
  server.route("/openid/v1/jwks", answer(() => ({ keys: keys.map((key) => key.jwk) })));
  server.route("/bundle", answer(() => ({ keys: keys.map((key) => ({ ...key.jwk, use: "jwt-svid" })), spiffe_sequence: keys.length, spiffe_refresh_hint: 300 })));

  const current = () => keys[keys.length - 1]!;
  const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    new SignJWT(claims).setProtectedHeader({ alg, kid: current().kid, ...header }).sign(current().privateKey);
  const nowSeconds = () => Math.floor(Date.now() / 1000);

  return {
    issuer,
    jwksUri: `${issuer}/openid/v1/jwks`,
    bundleEndpoint: `${issuer}/bundle`,
    ca: readFileSync(TEST_CA_CERT_PATH),
    server,
    get kid() {
      return current().kid;
    },
    sign,
    kubernetesToken({ namespace, serviceAccount, audience, lifetimeSeconds = 3600 }) {
      const now = nowSeconds();
      // As the TokenRequest API mints projected tokens: no typ header, aud always an array.
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
      const next = await newSigningKey(alg);
      if (retire) keys.splice(0, keys.length);
      keys.push(next);
    },
    close: () => server.close(),
  };
}

async function newSigningKey(alg: "RS256" | "ES256"): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}
