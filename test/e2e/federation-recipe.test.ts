/**
 * The README's Kubernetes recipe, followed as a new user would: the `tessera` CLI creates the
 * trusted issuer (keys by OIDC discovery from a fake cluster issuer over HTTPS with a private CA),
 * the client and the federation policy; then the pod's projected token is posted as curl would.
 * The answer verifies against /keys and carries the client's scope and the copied subject. Then
 * the GitHub Actions recipe's token exchange, with the issuer's key rotated in between.
 */
import { createLocalJWKSet, jwtVerify, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminCliEnv, runCli } from "../support/cli.js";
import { startFakeIssuer, type FakeIssuer } from "../support/fake-issuer.js";
import { ADMIN_CLIENT, STORAGE_KINDS, startTestServer, type TestServer } from "../support/test-server.js";

describe.each(STORAGE_KINDS)("the README's federation recipes, on %s storage", (storage) => {
  let server: TestServer;
  let cluster: FakeIssuer;
  let actions: FakeIssuer;

  beforeAll(async () => {
    [server, cluster, actions] = await Promise.all([startTestServer({ storage }), startFakeIssuer(), startFakeIssuer({ alg: "ES256" })]);
  });
  afterAll(async () => {
    await Promise.all([server?.destroy(), cluster?.close(), actions?.close()]);
  });

  const tessera = (...args: string[]) => runCli(adminCliEnv(server), ...args);

  async function ok(...args: string[]): Promise<void> {
    const run = await tessera(...args);
    expect(run.code, run.stderr).toBe(0);
  }

  async function token(form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${server.url}/oauth/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(form) });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  async function verified(accessToken: string) {
    const keys = createLocalJWKSet((await (await fetch(`${server.url}/keys`)).json()) as { keys: JWK[] });
    return (await jwtVerify(accessToken, keys, { issuer: server.config.issuer })).payload;
  }

  it("Kubernetes: trusted issuer, client and policy by CLI; the projected token gets the client's token", async () => {
    await ok("trusted-issuer", "create", "--issuer", cluster.issuer, "--audience", "tessera");
    await ok("clients", "create", "--id", "payments-api", "--name", "payments-api", "--scope", "payments:read");
    await ok(
      "federation-policy", "create", "--issuer", cluster.issuer, "--client", "payments-api",
      "--subject", "system:serviceaccount:payments:*", "--condition", "kubernetes.io.namespace=payments", "--copy-claim", "sub",
    );
    const projected = await cluster.kubernetesToken({ namespace: "payments", serviceAccount: "api", audience: "tessera" });
    const answer = await token({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion: projected });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(await verified(answer.body.access_token as string)).toMatchObject({ sub: "payments-api", client_id: "payments-api", scope: "payments:read" });
    expect(cluster.server.hitsOf("/.well-known/openid-configuration")).toBeGreaterThan(0);
    const otherNamespace = await cluster.kubernetesToken({ namespace: "billing", serviceAccount: "api", audience: "tessera" });
    expect((await token({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion: otherNamespace })).body.error).toBe("invalid_grant");
  });

  it("GitHub Actions: a token exchange, still working after the issuer rotated its key", async () => {
    await ok("trusted-issuer", "create", "--issuer", actions.issuer, "--jwks-uri", actions.jwksUri, "--audience", "https://github.com/acme");
    await ok("clients", "create", "--id", "deployer", "--name", "deployer", "--scope", "deploy");
    await ok(
      "federation-policy", "create", "--issuer", actions.issuer, "--client", "deployer",
      "--subject", "repo:acme/*:ref:refs/heads/main", "--condition", "repository_owner_id=4242",
      "--condition", "job_workflow_ref~=acme/*/.github/workflows/deploy.yml@refs/heads/main",
    );
    const exchange = async () =>
      token({
        grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
        subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
        subject_token: await actions.githubActionsToken({ repository: "acme/payments", audience: "https://github.com/acme" }),
        scope: "deploy",
      });
    const first = await exchange();
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.issued_token_type).toBe("urn:ietf:params:oauth:token-type:access_token");
    await actions.rotateKey({ retire: true });
    const second = await exchange();
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    expect(await verified(second.body.access_token as string)).toMatchObject({ client_id: "deployer", scope: "deploy" });
  });
});
