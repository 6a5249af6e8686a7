/**
 * `tessera apply|diff|export` against a real server on both storages, run in-process through
 * runCli (the same entry bin/tessera.cjs uses) and judged by exit code, output and what the
 * admin API then holds.
 */
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/cli.js";
import { connectAdminApi, connectFederationApi, type AdminApi, type FederationApi } from "../../src/cli/connection.js";
import { ClientStatus } from "../../src/gen/tessera/v1/client_pb.js";
import { readConfigDocuments } from "../../src/cli/config/config-documents.js";
import { applyPlan, checkUnchanged, prepare, readLiveState } from "../../src/cli/config/config-reconciler.js";
import { runCliWithInput } from "../support/cli.js";
import { clientCredentialsToken, codeOf } from "../support/clients.js";
import { ADMIN_CLIENT, STORAGE_KINDS, startTestServer, type TestServer } from "../support/test-server.js";

interface Run {
  readonly code: number | string;
  readonly stdout: string;
  readonly stderr: string;
}

const ISSUER = "https://ci.example.test";
const IMPORTED_SECRET = "imported-secret-0123456789-abcdefghijklmnopqrstuvwxyz";

function issuerJwks(): object {
  const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { keys: [{ ...(publicKey.export({ format: "jwk" }) as object), kid: "ci-1", use: "sig", alg: "ES256" }] };
}

describe.each(STORAGE_KINDS)("tessera apply, diff and export on %s storage", (storage) => {
  let server: TestServer;
  let dir: string;
  let admin: AdminApi;
  let federation: FederationApi;
  let env: Record<string, string>;
  const jwks = issuerJwks();

  beforeAll(async () => {
    server = await startTestServer({ storage });
    dir = mkdtempSync(path.join(tmpdir(), "tessera-config-"));
    env = {
      TESSERA_URL: server.url,
      TESSERA_ADMIN_CLIENT_ID: ADMIN_CLIENT.clientId,
      TESSERA_ADMIN_CLIENT_SECRET: ADMIN_CLIENT.clientSecret,
      BILLING_SECRET: IMPORTED_SECRET,
    };
    const settings = { baseUrl: server.url, clientId: ADMIN_CLIENT.clientId, clientSecret: ADMIN_CLIENT.clientSecret };
    admin = await connectAdminApi(settings);
    federation = await connectFederationApi(settings);
  });
  afterAll(async () => {
    await server?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function tessera(args: readonly string[], stdin = ""): Promise<Run> {
    let stdout = "";
    let stderr = "";
    const code = await runCli({
      argv: args,
      env,
      io: { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text), stdin: async () => stdin },
    });
    return { code, stdout, stderr };
  }

  const tesseraProcess = (args: readonly string[], stdin: string) => runCliWithInput(env, stdin, ...args);

  async function auditCount(): Promise<number> {
    let count = 0;
    let pageToken = "";
    do {
      const page = await admin.listAuditEvents({ pageSize: 500, pageToken });
      count += page.events.length;
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return count;
  }

  function writeConfig(files: Record<string, string>): string {
    const configDir = mkdtempSync(path.join(dir, "repo-"));
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(configDir, name)), { recursive: true });
      writeFileSync(path.join(configDir, name), text);
    }
    return configDir;
  }

  const issuerYaml = () => `kind: TrustedIssuer
id: ${ISSUER}
spec:
  description: CI provider
  audiences: [tessera]
  allowedAlgorithms: []   # unset: the server fills in every asymmetric algorithm, and that is no change
  jwks: ${JSON.stringify(jwks)}
`;

  const clientsYaml = (deployScopes = "[deploy:write]") => `# Clients; secrets never live here.
kind: Client
id: deployer
spec:
  name: Deployer
  scopes: ${deployScopes}
  audiences: [https://deploy.example.test]
  trustedMetadata: {team: platform}
---
kind: Client
id: billing
secretFrom: {env: BILLING_SECRET}
spec:
  name: Billing
  scopes: [invoices:read]
  tokenLifetime: 600s
`;

  const policiesYaml = (federationId = "ci-deploy") => `kind: FederationPolicy
id: ${federationId}
spec:
  issuer: ${ISSUER}
  clientId: deployer
  subject: "repo:acme/app:*"
  claimConditions:
    - {claim: ref, operator: CLAIM_CONDITION_OPERATOR_EQUALS, values: [refs/heads/main]}
---
kind: DelegationPolicy
id: billing-on-behalf
spec:
  clientId: billing
  audiences: [https://ledger.example.test]
  scopes: [invoices:read]
`;

  it("creates everything in dependency order, writes the generated secret once with mode 0600, and a second apply changes nothing", async () => {
    const repo = writeConfig({ "issuers.yaml": issuerYaml(), "clients/clients.yaml": clientsYaml(), "policies.yaml": policiesYaml() });
    const diff = await tessera(["diff", "-f", repo]);
    expect(diff.code, diff.stderr).toBe(1);
    expect(diff.stdout).toContain(`+ TrustedIssuer ${ISSUER}`);
    expect(diff.stdout).toContain("+ Client deployer");
    expect(diff.stdout).toContain("Plan: 5 to create, 0 to update, 0 to delete, 0 to deactivate.");
    expect(diff.stdout).not.toContain(IMPORTED_SECRET);

    const secretsFile = path.join(dir, "secrets-1.jsonl");
    const applied = await tessera(["apply", "-f", repo, "--secrets-out", secretsFile]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout.split("\n").slice(0, 5)).toEqual([
      `created TrustedIssuer ${ISSUER}`,
      "created Client billing",
      "created Client deployer",
      "created FederationPolicy ci-deploy",
      "created DelegationPolicy billing-on-behalf",
    ]);
    expect(applied.stdout).not.toContain(IMPORTED_SECRET);
    expect(statSync(secretsFile).mode & 0o777).toBe(0o600);
    const secrets = readFileSync(secretsFile, "utf8").trim().split("\n").map((line) => JSON.parse(line) as { clientId: string; clientSecret: string });
    expect(secrets.map((entry) => entry.clientId)).toEqual(["deployer"]);
    await clientCredentialsToken(server, secrets[0]!);
    await clientCredentialsToken(server, { clientId: "billing", clientSecret: IMPORTED_SECRET });

    const deployer = (await admin.getClient({ clientId: "deployer" })).client!;
    expect(deployer).toMatchObject({ name: "Deployer", scopes: ["deploy:write"], defaultScopes: ["deploy:write"], annotations: { "tessera.dev/managed-by": "tessera-apply" } });
    const policy = (await federation.getFederationPolicy({ federationPolicyId: "ci-deploy" })).federationPolicy!;
    expect(policy).toMatchObject({ issuer: ISSUER, clientId: "deployer", subject: "repo:acme/app:*" });

    const before = await auditCount();
    const again = await tessera(["apply", "-f", repo, "--secrets-out", secretsFile]);
    expect(again, again.stderr).toMatchObject({ code: 0 });
    expect(again.stdout).toContain("No changes");
    expect(await tessera(["diff", "-f", repo])).toMatchObject({ code: 0 });
    expect(await auditCount()).toBe(before);
  });

  it("changes one field with an update of that field alone, shown field by field first", async () => {
    const repo = writeConfig({ "issuers.yaml": issuerYaml(), "clients.yaml": clientsYaml("[deploy:write, deploy:read]"), "policies.yaml": policiesYaml() });
    const diff = await tessera(["diff", "-f", repo]);
    expect(diff.code).toBe(1);
    expect(diff.stdout).toContain("~ Client deployer");
    expect(diff.stdout).toContain('scopes: ["deploy:write"] → ["deploy:write","deploy:read"]');
    expect(diff.stdout).toContain("Plan: 0 to create, 1 to update");
    const before = (await admin.getClient({ clientId: "deployer" })).client!;
    const applied = await tessera(["apply", "-f", repo, "--dry-run"]);
    expect(applied.code).toBe(0);
    expect((await admin.getClient({ clientId: "deployer" })).client!.etag).toBe(before.etag);
    const real = await tessera(["apply", "-f", repo]);
    expect(real.stdout, real.stderr).toContain("updated Client deployer (scopes, defaultScopes)");
    const after = (await admin.getClient({ clientId: "deployer" })).client!;
    expect(after).toMatchObject({ scopes: ["deploy:write", "deploy:read"], name: "Deployer", trustedMetadata: { team: "platform" }, clientSecretLastFour: before.clientSecretLastFour });
  });

  it("round-trips: export then apply, and export then diff, change nothing", async () => {
    const exported = await tessera(["export"]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toContain("kind: FederationPolicy");
    expect(exported.stdout).not.toContain("etag");
    expect(exported.stdout).not.toContain("createTime");
    expect(exported.stdout).not.toContain(ADMIN_CLIENT.clientId);
    const before = await auditCount();
    const applied = await tessera(["apply", "-f", "-"], exported.stdout);
    expect(applied, applied.stderr).toMatchObject({ code: 0 });
    expect(applied.stdout).toContain("No changes");
    const file = path.join(dir, "exported.yaml");
    writeFileSync(file, exported.stdout);
    expect(await tessera(["diff", "-f", file])).toMatchObject({ code: 0 });
    expect(await auditCount()).toBe(before);
  });

  it("pipes export into diff as a script would, through bin/tessera.cjs: exit 0 with nothing to change, 1 with a change", async () => {
    const exported = await tessera(["export"]);
    const same = await tesseraProcess(["diff", "-f", "-"], exported.stdout);
    expect(same, same.stderr).toMatchObject({ code: 0 });
    const changed = await tesseraProcess(["diff", "-f", "-"], exported.stdout.replace("name: Billing", "name: Billing (renamed)"));
    expect(changed.code, changed.stderr).toBe(1);
    expect(changed.stdout).toContain('name: "Billing" → "Billing (renamed)"');
  });

  it("renames: the new id is created; with --prune the old policy is deleted and the old client deactivated, never unmanaged ones", async () => {
    const unmanaged = await admin.createClient({ clientId: "hand-made", name: "made by hand", scopes: ["x"] });
    const renamedClients = clientsYaml().replace("id: deployer", "id: deployer-v2");
    const repo = writeConfig({
      "issuers.yaml": issuerYaml(),
      "clients.yaml": renamedClients,
      "policies.yaml": policiesYaml("ci-deploy-main").replace("clientId: deployer", "clientId: deployer-v2"),
    });
    const secretsFile = path.join(dir, "secrets-2.jsonl");
    const withoutPrune = await tessera(["apply", "-f", repo, "--secrets-out", secretsFile]);
    expect(withoutPrune.code, withoutPrune.stderr).toBe(0);
    expect((await federation.getFederationPolicy({ federationPolicyId: "ci-deploy" })).federationPolicy).toBeDefined();

    const diff = await tessera(["diff", "-f", repo, "--prune"]);
    expect(diff.code).toBe(1);
    expect(diff.stdout).toContain("- FederationPolicy ci-deploy (deleted: no document names it)");
    expect(diff.stdout).toContain("! Client deployer (deactivated: no document names it)");
    expect(diff.stdout).not.toContain("hand-made");
    expect(diff.stdout).not.toContain(ADMIN_CLIENT.clientId);

    const pruned = await tessera(["apply", "-f", repo, "--prune"]);
    expect(pruned.code, pruned.stderr).toBe(0);
    await expect(federation.getFederationPolicy({ federationPolicyId: "ci-deploy" })).rejects.toMatchObject({ code: Code.NotFound });
    expect((await admin.getClient({ clientId: "deployer" })).client!.status).toBe(ClientStatus.INACTIVE);
    expect((await admin.getClient({ clientId: "hand-made" })).client!.status).toBe(ClientStatus.ACTIVE);
    expect((await admin.getClient({ clientId: ADMIN_CLIENT.clientId })).client!.status).toBe(ClientStatus.ACTIVE);
    expect((await admin.getClient({ clientId: unmanaged.client!.clientId })).client).toBeDefined();
    expect(await tessera(["diff", "-f", repo, "--prune"])).toMatchObject({ code: 0 });
  });

  it("detects an edit made between plan and apply: nothing is written, and the edit is never overwritten", async () => {
    const repo = writeConfig({
      "issuers.yaml": issuerYaml().replace("CI provider", "CI provider (edited in Git)"),
      "clients.yaml": clientsYaml().replace("id: deployer", "id: deployer-v2").replace("name: Billing", "name: Billing service"),
    });
    const read = await readConfigDocuments([repo], async () => "");
    expect(read.problems).toEqual([]);
    const options = { prune: false, protectedClientIds: [ADMIN_CLIENT.clientId], env, secretsOut: undefined, forWriting: true };
    const apis = { admin, federation };
    const plan = prepare(read.documents, await readLiveState(apis, options), options);
    expect(plan.actions.map((action) => `${action.type} ${action.kind} ${action.id}`)).toEqual([`update TrustedIssuer ${ISSUER}`, "update Client billing"]);

    // Someone edits the client after the plan was made.
    const current = (await admin.getClient({ clientId: "billing" })).client!;
    await admin.updateClient({ client: { clientId: "billing", description: "edited by hand", etag: current.etag }, updateMask: { paths: ["description"] } });
    const before = await auditCount();
    const live = await readLiveState(apis, options);
    expect(() => checkUnchanged(plan, live)).toThrowError(/Client billing was changed.*nothing was written/);
    expect(await auditCount()).toBe(before);
    expect((await federation.getTrustedIssuer({ issuer: ISSUER })).trustedIssuer!.description).toBe("CI provider");

    // Past that check, the etag each write carries still refuses to overwrite the edit.
    const applied: string[] = [];
    const failure = await applyPlan(apis, plan, (action) => applied.push(action.id)).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: "aborted" });
    expect(String((failure as Error).message)).toContain(`applied before it: updated TrustedIssuer ${ISSUER} (description)`);
    expect(applied).toEqual([ISSUER]);
    expect((await admin.getClient({ clientId: "billing" })).client).toMatchObject({ name: "Billing", description: "edited by hand" });

    // Through the CLI the same race ends with exit 4 and nothing written; a fresh apply then converges.
    const rerun = await tessera(["apply", "-f", repo]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect((await admin.getClient({ clientId: "billing" })).client).toMatchObject({ name: "Billing service", description: "" });
  });

  it("lets the admin API take a caller-chosen policy id and annotations, both validated", async () => {
    const policy = { issuer: ISSUER, clientId: "billing", subject: "x" };
    expect(await codeOf(federation.createFederationPolicy({ federationPolicy: policy, federationPolicyId: "Bad_Id" }))).toBe(Code.InvalidArgument);
    expect(await codeOf(federation.createFederationPolicy({ federationPolicy: policy, federationPolicyId: "ci-deploy-main" }))).toBe(Code.AlreadyExists);
    expect(await codeOf(federation.createDelegationPolicy({ delegationPolicy: { clientId: "billing" }, delegationPolicyId: "billing-on-behalf" }))).toBe(Code.AlreadyExists);
    const annotated = await federation.createDelegationPolicy({ delegationPolicy: { clientId: "billing", annotations: { "example.com/owner": "team-a" } }, delegationPolicyId: "annotated" });
    expect(annotated.delegationPolicy).toMatchObject({ delegationPolicyId: "annotated", annotations: { "example.com/owner": "team-a" } });
    await federation.deleteDelegationPolicy({ delegationPolicyId: "annotated" });
    expect(await codeOf(admin.createClient({ name: "n", annotations: { "bad key!": "v" } }))).toBe(Code.InvalidArgument);
    const tooMany = Object.fromEntries(Array.from({ length: 33 }, (_, index) => [`k${index}`, "v"]));
    expect(await codeOf(admin.createClient({ name: "n", annotations: tooMany }))).toBe(Code.InvalidArgument);
    const current = (await admin.getClient({ clientId: "billing" })).client!;
    const updated = await admin.updateClient({ client: { clientId: "billing", annotations: { ...current.annotations, "example.com/owner": "billing" } }, updateMask: { paths: ["annotations"] } });
    expect(updated.client!.annotations).toEqual({ "tessera.dev/managed-by": "tessera-apply", "example.com/owner": "billing" });
  });

  it("refuses invalid files before anything is written, naming file, document and field", async () => {
    const repo = writeConfig({
      "a.yaml": `kind: Client
id: typo
spec:
  name: Typo
  scoeps: [read]
---
kind: Client
id: wrong-type
spec:
  name: Wrong type
  scopes: read
  refreshTokensEnabled: "yes"
`,
      "b.yaml": `kind: FederationPolicy
id: dangling
spec:
  issuer: https://nobody.example.test
  clientId: billing
  subject: x
`,
    });
    const before = await auditCount();
    const secretsFile = path.join(dir, "never.jsonl");
    const run = await tessera(["apply", "-f", repo, "--secrets-out", secretsFile]);
    expect(run.code).toBe(6);
    expect(run.stderr).toContain(`${path.join(repo, "a.yaml")} document 1: spec.scoeps is not a field of Client`);
    expect(run.stderr).toContain(`${path.join(repo, "a.yaml")} document 2: spec.scopes must be a list`);
    expect(run.stderr).toContain(`${path.join(repo, "a.yaml")} document 2: spec.refreshTokensEnabled must be true or false`);
    expect(run.stderr).toContain("nothing was written");
    expect(existsSync(secretsFile)).toBe(false);

    // Only the reference is wrong: caught after reading the server, still before any write.
    const dangling = await tessera(["apply", "-f", path.join(repo, "b.yaml")]);
    expect(dangling.code).toBe(6);
    expect(dangling.stderr).toContain(`${path.join(repo, "b.yaml")} document 1: spec.issuer names TrustedIssuer https://nobody.example.test, which neither the files nor the server define`);

    // A new client without a place for its secret is refused too.
    const noSecrets = await tessera(["apply", "-f", "-"], "kind: Client\nid: fresh\nspec: {name: Fresh}\n");
    expect(noSecrets.code).toBe(6);
    expect(noSecrets.stderr).toContain("--secrets-out");
    // Secrets are written once: an existing secrets file is never appended to or overwritten.
    const existing = path.join(dir, "secrets-1.jsonl");
    const content = readFileSync(existing, "utf8");
    const reused = await tessera(["apply", "-f", "-", "--secrets-out", existing], "kind: Client\nid: fresh\nspec: {name: Fresh}\n");
    expect(reused.code).toBe(6);
    expect(reused.stderr).toContain(`--secrets-out ${existing} already exists`);
    expect(readFileSync(existing, "utf8")).toBe(content);

    expect(await auditCount()).toBe(before);
    await expect(admin.getClient({ clientId: "wrong-type" })).rejects.toBeInstanceOf(ConnectError);
  });
});
