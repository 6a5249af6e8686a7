/**
 * The `tessera` command as a script runs it: bin/tessera.cjs in a child process against a real
 * server, judged only by stdout, stderr and the exit code. One server for the file; each CLI
 * run costs about a second of tsx start-up, so the runs are few and carry several checks each.
 */
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { calculateJwkThumbprint, decodeJwt, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminCliEnv, runCli, runCliJson } from "../support/cli.js";
import { freePort } from "../support/ports.js";
import { ADMIN_CLIENT, basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";


interface ClientJson {
  readonly clientId: string;
  readonly name: string;
  readonly description: string;
  readonly scopes: string[];
  readonly status: string;
  readonly etag: string;
  readonly tokenLifetime: string;
  readonly trustedMetadata: Record<string, unknown>;
  readonly nextClientSecretLastFour: string;
}

describe("tessera CLI", () => {
  let server: TestServer;
  /** Only what the CLI needs: nothing from the test runner's own environment leaks in. */
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer({ storage: "embedded" });
    env = adminCliEnv(server);
  });
  afterAll(async () => server?.destroy());

  const tessera = (...args: string[]) => runCli(env, ...args);

  const tesseraJson = <T>(...args: string[]) => runCliJson<T>(env, ...args);

  async function tokenStatus(clientId: string, clientSecret: string): Promise<number> {
    const response = await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(clientId, clientSecret) },
      body: "grant_type=client_credentials",
    });
    await response.arrayBuffer();
    return response.status;
  }

  it("shows help with exit 0, and answers usage errors with exit 2 and one line on stderr", async () => {
    const [help, groupHelp, missingName, unknownJson] = await Promise.all([
      tessera("--help"),
      tessera("clients", "update", "--help"),
      tessera("clients", "create", "--scope", "s:read"),
      tessera("clients", "frobnicate", "--json"),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("clients rotate-secret");
    expect(help.stdout).toMatch(/Exit codes:[\s\S]*3 {2}not found[\s\S]*7 {2}unavailable/);
    expect(groupHelp.code).toBe(0);
    expect(groupHelp.stdout).toContain("Usage: tessera clients update ID [options]");
    expect(groupHelp.stdout).toContain("--etag ETAG");
    expect(missingName).toMatchObject({ code: 2, stdout: "" });
    expect(missingName.stderr).toMatch(/^tessera: --name is required; see tessera clients create --help\n$/);
    expect(unknownJson).toMatchObject({ code: 2, stderr: "" });
    expect(JSON.parse(unknownJson.stdout)).toEqual({ error: { code: "usage", message: expect.stringContaining("frobnicate") } });
  });

  it("registers and removes a client's jwks_uri with --jwks-uri", async () => {
    const created = await tesseraJson<{ client: ClientJson & { jwksUri?: string } }>(
      "clients", "create", "--name", "url-keys", "--jwks-uri", "https://keys.example/jwks",
    );
    expect(created.client.jwksUri).toBe("https://keys.example/jwks");
    const shown = await tessera("clients", "get", created.client.clientId);
    expect(shown.stdout).toMatch(/^jwks_uri\s+https:\/\/keys\.example\/jwks$/m);
    const cleared = await tesseraJson<{ client: ClientJson & { jwksUri?: string } }>("clients", "update", created.client.clientId, "--jwks-uri", "");
    expect(cleared.client.jwksUri).toBe("");
    const refused = await tessera("clients", "create", "--name", "url-plain", "--jwks-uri", "http://keys.example/jwks");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/jwks_uri/);
  });

  it("requires DPoP of a client with --dpop-bound-access-tokens, and gets a DPoP-bound token with tessera token --dpop-key", async () => {
    const created = await tessera("clients", "create", "--name", "dpop-cli", "--scope", "s:read", "--dpop-bound-access-tokens", "true", "--json");
    expect(created.code, created.stderr).toBe(0);
    const { client, clientSecret } = JSON.parse(created.stdout) as { client: ClientJson & { dpopBoundAccessTokens?: boolean }; clientSecret: string };
    expect(client.dpopBoundAccessTokens).toBe(true);
    const plain = await tessera("token", "--client-id", client.clientId, `--client-secret=${clientSecret}`);
    expect(plain).toMatchObject({ code: 5, stdout: "" });
    expect(plain.stderr).toMatch(/invalid_dpop_proof/);

    const keyFile = path.join(server.dataDir, "dpop-key.pem");
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    writeFileSync(keyFile, privateKey.export({ format: "pem", type: "pkcs8" }));
    const bound = await tessera("token", "--client-id", client.clientId, `--client-secret=${clientSecret}`, "--dpop-key", keyFile, "--json");
    expect(bound, bound.stderr).toMatchObject({ code: 0, stderr: "" });
    const answer = JSON.parse(bound.stdout) as { access_token: string; token_type: string };
    expect(answer.token_type).toBe("DPoP");
    expect(decodeJwt(answer.access_token).cnf).toEqual({ jkt: await calculateJwkThumbprint(publicKey.export({ format: "jwk" }) as JWK) });

    const updated = await tesseraJson<{ client: ClientJson & { dpopBoundAccessTokens?: boolean } }>("clients", "update", client.clientId, "--dpop-bound-access-tokens", "false");
    expect(updated.client.dpopBoundAccessTokens ?? false).toBe(false);
    expect((await tessera("token", "--client-id", client.clientId, `--client-secret=${clientSecret}`)).code).toBe(0);
  });

  // About twenty CLI processes in sequence, each starting Node: generous on a loaded machine.
  it("scripts the whole client lifecycle: create, list, get, update, rotate, deactivate, reactivate, delete", async () => {
    // Create: the JSON is CreateClientResponse, secret included, once.
    const created = await tesseraJson<{ client: ClientJson; clientSecret: string }>(
      "clients", "create", "--name", "cli-worker", "--id", "cli-worker",
      "--scope", "billing:read", "--scope", "billing:write", "--audience", "https://billing.example",
      "--metadata", "team=payments", "--token-lifetime", "15m",
    );
    expect(created.client).toMatchObject({ clientId: "cli-worker", status: "CLIENT_STATUS_ACTIVE", tokenLifetime: "900s", trustedMetadata: { team: "payments" } });
    const firstSecret = created.clientSecret;
    expect(await tokenStatus("cli-worker", firstSecret)).toBe(200);

    // Text mode marks the secret and prints it alone on the last line, for people to copy.
    const textCreate = await tessera("clients", "create", "--name", "cli-second");
    expect(textCreate.code).toBe(0);
    expect(textCreate.stdout).toMatch(/client_secret \(shown only this once: store it now\):\n\S{32,}\n$/);
    const secondId = /^client_id\s+(\S+)$/m.exec(textCreate.stdout)![1]!;
    expect(await tokenStatus(secondId, textCreate.stdout.trimEnd().split("\n").at(-1)!)).toBe(200);

    // List: --all follows next_page_token across pages of one.
    const listed = await tesseraJson<{ clients: ClientJson[]; nextPageToken: string; totalSize: number }>(
      "clients", "list", "--name-prefix", "cli-", "--page-size", "1", "--all",
    );
    expect(listed.clients.map((client) => client.name)).toEqual(["cli-worker", "cli-second"]);
    expect(listed).toMatchObject({ nextPageToken: "", totalSize: 2 });
    const table = await tessera("clients", "list", "--status", "active");
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^CLIENT ID\s+NAME\s+STATUS\s+SCOPES/);
    expect(table.stdout).toMatch(/^cli-worker\s+cli-worker\s+active\s+billing:read billing:write\s+https:\/\/billing\.example/m);

    const shown = await tessera("clients", "get", "cli-worker");
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^token_lifetime\s+15m \(900s\)$/m);
    expect(shown.stdout).toMatch(/^trusted_metadata\s+\{"team":"payments"\}$/m);

    // Update: the mask is the flags given; the description stays as it was.
    const updated = await tesseraJson<{ client: ClientJson }>(
      "clients", "update", "cli-worker", "--name", "cli-renamed", "--scope", "billing:read", "--default-scope", "billing:read", "--etag", created.client.etag,
    );
    expect(updated.client).toMatchObject({ name: "cli-renamed", description: "", scopes: ["billing:read"] });
    expect(updated.client.etag).not.toBe(created.client.etag);
    const stale = await tessera("clients", "update", "cli-worker", "--description", "late", "--etag", created.client.etag);
    expect(stale.code).toBe(4);
    expect(stale.stderr).toMatch(/^tessera: aborted: .+\n$/);

    // Secret rotation: both secrets work between start and complete, then only the new one.
    const started = await tesseraJson<{ client: ClientJson; clientSecret: string }>("clients", "rotate-secret", "cli-worker");
    const newSecret = started.clientSecret;
    expect(started.client.nextClientSecretLastFour).toBe(newSecret.slice(-4));
    expect(await tokenStatus("cli-worker", firstSecret)).toBe(200);
    expect(await tokenStatus("cli-worker", newSecret)).toBe(200);
    await tesseraJson("clients", "rotate-secret", "cli-worker", "--complete");
    expect(await tokenStatus("cli-worker", firstSecret)).toBe(401);
    expect(await tokenStatus("cli-worker", newSecret)).toBe(200);

    // The token command prints just the access token.
    const token = await tessera("token", "--client-id", "cli-worker", `--client-secret=${newSecret}`, "--scope", "billing:read");
    expect(token).toMatchObject({ code: 0, stderr: "" });
    expect(decodeJwt(token.stdout.trim())).toMatchObject({ sub: "cli-worker", scope: "billing:read", aud: "https://billing.example" });

    // Deactivated: the token command fails with exit 5; reactivated: tokens again.
    const deactivated = await tesseraJson<{ client: ClientJson }>("clients", "deactivate", "cli-worker");
    expect(deactivated.client.status).toBe("CLIENT_STATUS_INACTIVE");
    const refused = await tessera("token", "--client-id", "cli-worker", `--client-secret=${newSecret}`);
    expect(refused).toMatchObject({ code: 5, stdout: "" });
    expect(refused.stderr).toMatch(/^tessera: unauthenticated: invalid_client.*\n$/);
    const reactivated = await tessera("clients", "reactivate", "cli-worker");
    expect(reactivated.code).toBe(0);
    expect(reactivated.stdout).toMatch(/^status\s+active$/m);
    expect(await tokenStatus("cli-worker", newSecret)).toBe(200);

    // Delete; afterwards the client is not found (exit 3), and the audit trail tells the story.
    const deleted = await tessera("clients", "delete", "cli-worker");
    expect(deleted).toMatchObject({ code: 0, stdout: "deleted client cli-worker\n" });
    expect(await tokenStatus("cli-worker", newSecret)).toBe(401);
    const gone = await tessera("clients", "get", "cli-worker", "--json");
    expect(gone).toMatchObject({ code: 3, stderr: "" });
    expect(JSON.parse(gone.stdout)).toEqual({ error: { code: "not_found", message: expect.stringContaining("cli-worker") } });
    const audit = await tesseraJson<{ events: { action: string; actor: string }[] }>("audit", "list", "--client", "cli-worker");
    expect(audit.events.map((event) => event.action)).toEqual([
      "client.delete",
      "client.reactivate",
      "client.deactivate",
      "client.secret_rotation.complete",
      "client.secret_rotation.start",
      "client.update",
      "client.create",
    ]);
    expect(audit.events[0]!.actor).toBe(ADMIN_CLIENT.clientId);
  }, 180_000);

  it("rotates a signing key and lists it as the next key", async () => {
    const rotated = await tesseraJson<{ key: { kid: string; algorithm: string; state: string } }>("keys", "rotate", "--alg", "ES256");
    expect(rotated.key).toMatchObject({ algorithm: "SIGNING_ALGORITHM_ES256", state: "SIGNING_KEY_STATE_NEXT" });
    const keys = await tessera("keys", "list");
    expect(keys.code).toBe(0);
    expect(keys.stdout).toMatch(new RegExp(`^${rotated.key.kid}\\s+ES256\\s+next\\s`, "m"));
  });

  it("exits 5 when the admin credentials are wrong, and 7 when nothing listens at the URL", async () => {
    const closedPort = await freePort();
    const [wrongSecret, unreachable] = await Promise.all([
      tessera("clients", "list", "--client-secret", "not-the-admin-secret"),
      tessera("--url", `http://127.0.0.1:${closedPort}`, "clients", "list", "--json"),
    ]);
    expect(wrongSecret).toMatchObject({ code: 5, stdout: "" });
    expect(wrongSecret.stderr).toMatch(/^tessera: unauthenticated: could not get an admin token for tessera-admin: invalid_client/);
    expect(unreachable).toMatchObject({ code: 7, stderr: "" });
    expect(JSON.parse(unreachable.stdout)).toEqual({ error: { code: "unavailable", message: expect.stringContaining("ECONNREFUSED") } });
  });
});
