/**
 * Crash safety (Hardening, item 4): a Tessera process on PostgreSQL is killed with SIGKILL in the
 * middle of concurrent CreateClient, Start/Complete/CancelSecretRotation and RotateSigningKey
 * calls, several times, and restarted each time. Afterwards, by SQL and through the API:
 *
 * - every client has exactly one `current` secret and at most one `next`;
 * - every client whose creation was acknowledged (HTTP 200 seen) exists, and for every client
 *   whose every call was answered, exactly the secrets the answers imply authenticate;
 * - every algorithm (RS256, PS256, ES256, EdDSA) has exactly one `active` signing key (and at
 *   most one `next`), and a token signed with it verifies against /keys.
 *
 * Each client is driven by one worker at a time, so the answers seen define its state; a call cut
 * off by the kill makes that client "uncertain" and only the structural checks apply to it.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../support/ports.js";
import { createTestSchema, type TestSchema } from "../support/postgres.js";
import { spawnServer, type ServerProcess } from "../support/server-process.js";
import { ADMIN_CLIENT, basicAuthorization } from "../support/test-server.js";
import { withSchema } from "./fuzz-support.js";

const ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"] as const;
const PROTO_ALGORITHM: Readonly<Record<(typeof ALGORITHMS)[number], string>> = {
  RS256: "SIGNING_ALGORITHM_RS256",
  PS256: "SIGNING_ALGORITHM_PS256",
  ES256: "SIGNING_ALGORITHM_ES256",
  EdDSA: "SIGNING_ALGORITHM_EDDSA",
};
/** Kill-and-restart rounds; each runs the load for a random 0.4–1.6 s before SIGKILL. */
const CYCLES = 5;
const CLIENT_WORKERS = 6;
const CALL_TIMEOUT_MS = 10_000;

interface TrackedClient {
  readonly clientId: string;
  readonly alg: (typeof ALGORITHMS)[number];
  current: string;
  next: string | undefined;
  /** False once a call on it went unanswered: its secrets are then unknown to us. */
  certain: boolean;
}

type CallOutcome =
  | { kind: "ok"; body: Record<string, unknown> }
  | { kind: "refused"; status: number; code: string }
  /** Sent, and no complete answer came back: it may or may not have been committed. */
  | { kind: "lost"; error: string };

const dirs: string[] = [];
let schema: TestSchema | undefined;
let running: ServerProcess | undefined;
afterAll(async () => {
  if (running && running.child.exitCode === null && running.child.signalCode === null) {
    running.child.kill("SIGKILL");
    await running.exited;
  }
  await schema?.drop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("kill -9 in the middle of admin writes, on PostgreSQL", () => {
  it(
    "leaves every client with one current secret, every acknowledged client working, and one active key per algorithm",
    async () => {
      schema = await createTestSchema("crash");
      const port = await freePort();
      const baseUrl = `http://127.0.0.1:${port}`;
      const dataDir = mkdtempSync(path.join(tmpdir(), "tessera-crash-"));
      dirs.push(dataDir);
      const env: Record<string, string> = {
        PORT: String(port),
        TESSERA_HOST: "127.0.0.1",
        TESSERA_ISSUER: baseUrl,
        TESSERA_DATA_DIR: dataDir,
        DATABASE_URL: schema.url,
        TESSERA_KEK: randomBytes(32).toString("base64"),
        TESSERA_ADMIN_CLIENT_ID: ADMIN_CLIENT.clientId,
        TESSERA_ADMIN_CLIENT_SECRET: ADMIN_CLIENT.clientSecret,
        // "tessera listening" is an info line: spawnServer waits for it.
        TESSERA_LOG_LEVEL: "info",
        // A short publication lead (2 × 1 s + 10 s) so rotated keys become active during the run,
        // some of them in a start-up right after a kill.
        TESSERA_JWKS_MAX_AGE: "1s",
        TESSERA_KEY_ROTATION_INTERVAL: "120s",
      };

      let keyStates: Record<string, number> = {};
      const tracked: TrackedClient[][] = Array.from({ length: CLIENT_WORKERS }, () => []);
      const contradictions: string[] = [];
      const counts = { created: 0, lost: 0, rotations: 0, keyRotations: 0, kills: 0 };

      for (let cycle = 0; cycle < CYCLES; cycle++) {
        running = spawnServer(env);
        await running.listening;
        const token = await adminToken(baseUrl);
        let stopped = false;
        const rpc = (method: string, body: object) => callAdmin(baseUrl, token, method, body);

        const clientWorker = async (mine: TrackedClient[]) => {
          while (!stopped) {
            const client = mine.length === 0 || Math.random() < 0.35 ? undefined : mine[Math.floor(Math.random() * mine.length)]!;
            if (!client) {
              const alg = ALGORITHMS[Math.floor(Math.random() * ALGORITHMS.length)]!;
              const outcome = await rpc("CreateClient", { name: `crash-${cycle}`, scopes: ["crash:test"], signingAlgorithm: PROTO_ALGORITHM[alg] });
              if (outcome.kind === "ok") {
                const created = outcome.body as { client: { clientId: string }; clientSecret: string };
                mine.push({ clientId: created.client.clientId, alg, current: created.clientSecret, next: undefined, certain: true });
                counts.created++;
              }
              if (outcome.kind === "lost") counts.lost++;
              continue;
            }
            // With no rotation in progress start one; with one, complete it (mostly) or cancel it.
            const step = client.next === undefined && client.certain ? "StartSecretRotation" : Math.random() < 0.75 ? "CompleteSecretRotation" : "CancelSecretRotation";
            const chosen = client.certain ? step : (["StartSecretRotation", "CompleteSecretRotation", "CancelSecretRotation"] as const)[Math.floor(Math.random() * 3)]!;
            const outcome = await rpc(chosen, { clientId: client.clientId });
            counts.rotations++;
            if (outcome.kind === "lost") {
              counts.lost++;
              client.certain = false;
              continue;
            }
            if (!client.certain) continue;
            if (outcome.kind === "refused") {
              contradictions.push(`${chosen} on ${client.clientId} (next ${client.next ? "set" : "unset"}) refused: ${outcome.status} ${outcome.code}`);
              client.certain = false;
              continue;
            }
            if (chosen === "StartSecretRotation") client.next = (outcome.body as { clientSecret: string }).clientSecret;
            if (chosen === "CompleteSecretRotation") {
              client.current = client.next!;
              client.next = undefined;
            }
            if (chosen === "CancelSecretRotation") client.next = undefined;
          }
        };
        const keyWorker = async () => {
          while (!stopped) {
            const alg = ALGORITHMS[Math.floor(Math.random() * ALGORITHMS.length)]!;
            const outcome = await rpc("RotateSigningKey", { algorithm: PROTO_ALGORITHM[alg] });
            if (outcome.kind === "ok") counts.keyRotations++;
            // A key already waiting is FAILED_PRECONDITION: wait a little instead of spinning.
            if (outcome.kind === "refused") await new Promise((resolve) => setTimeout(resolve, 50));
          }
        };
        const workers = [...tracked.map((mine) => clientWorker(mine)), keyWorker(), keyWorker()];

        await new Promise((resolve) => setTimeout(resolve, 400 + Math.random() * 1_200));
        // No new calls from here on: only the ones in flight meet the kill.
        stopped = true;
        running.child.kill("SIGKILL");
        counts.kills++;
        expect(await running.exited).toBe("SIGKILL");
        await Promise.all(workers);
      }

      // One more start: it must come up on whatever the kills left behind.
      running = spawnServer(env);
      await running.listening;
      const all = tracked.flat();
      expect(counts.created, JSON.stringify(counts)).toBeGreaterThan(CYCLES);
      expect(counts.kills).toBe(CYCLES);
      expect(contradictions).toEqual([]);

      // --- By SQL ---
      await withSchema(schema.url, async (db) => {
        const secrets = await db.query<{ id: string; current: number; next: number; other: number }>(`
          SELECT c.id,
                 count(s.id) FILTER (WHERE s.slot = 'current')::int AS current,
                 count(s.id) FILTER (WHERE s.slot = 'next')::int AS next,
                 count(s.id) FILTER (WHERE s.slot NOT IN ('current', 'next'))::int AS other
          FROM clients c LEFT JOIN client_secrets s ON s.client_id = c.id
          GROUP BY c.id`);
        const broken = secrets.rows.filter((row) => row.current !== 1 || row.next > 1 || row.other > 0);
        expect(broken, "clients whose secret slots are not one current and at most one next").toEqual([]);
        const existing = new Set(secrets.rows.map((row) => row.id));
        expect(all.filter((client) => !existing.has(client.clientId)).map((client) => client.clientId), "acknowledged clients missing").toEqual([]);

        const keys = await db.query<{ alg: string; state: string; n: number }>("SELECT alg, state, count(*)::int AS n FROM signing_keys GROUP BY alg, state");
        keyStates = Object.fromEntries(keys.rows.map((row) => [`${row.alg}/${row.state}`, row.n]));
        for (const alg of ALGORITHMS) {
          const of = (state: string) => keys.rows.find((row) => row.alg === alg && row.state === state)?.n ?? 0;
          expect(of("active"), `${alg} active keys`).toBe(1);
          expect(of("next"), `${alg} next keys`).toBeLessThanOrEqual(1);
        }
      });

      // --- Through the API ---
      const token = await adminToken(baseUrl);
      const listed = await callAdmin(baseUrl, token, "ListSigningKeys", {});
      if (listed.kind !== "ok") throw new Error(`ListSigningKeys: ${JSON.stringify(listed)}`);
      const keys = (listed.body as { keys: { algorithm: string; state: string }[] }).keys;
      for (const alg of ALGORITHMS) {
        expect(keys.filter((key) => key.algorithm === PROTO_ALGORITHM[alg] && key.state === "SIGNING_KEY_STATE_ACTIVE"), `${alg} active keys in ListSigningKeys`).toHaveLength(1);
      }
      const jwks = createLocalJWKSet((await (await fetch(`${baseUrl}/keys`)).json()) as JSONWebKeySet);

      const failures: string[] = [];
      const verifiedAlgorithms = new Set<string>();
      for (const client of all) {
        const got = await callAdmin(baseUrl, token, "GetClient", { clientId: client.clientId });
        if (got.kind !== "ok") {
          failures.push(`${client.clientId}: GetClient ${JSON.stringify(got)}`);
          continue;
        }
        if (!client.certain) continue;
        const stored = (got.body as { client: { clientSecretLastFour?: string; nextClientSecretLastFour?: string } }).client;
        if (stored.clientSecretLastFour !== client.current.slice(-4)) failures.push(`${client.clientId}: current secret ends ${stored.clientSecretLastFour}, answers said ${client.current.slice(-4)}`);
        if ((stored.nextClientSecretLastFour ?? "") !== (client.next?.slice(-4) ?? "")) failures.push(`${client.clientId}: next secret ends ${stored.nextClientSecretLastFour}, answers said ${client.next?.slice(-4)}`);
        const issued = await tokenFor(baseUrl, client.clientId, client.current);
        if (typeof issued !== "string") {
          failures.push(`${client.clientId}: its current secret was refused: ${issued.status}`);
          continue;
        }
        if (client.next !== undefined && typeof (await tokenFor(baseUrl, client.clientId, client.next)) !== "string") failures.push(`${client.clientId}: its next secret was refused`);
        try {
          const { protectedHeader } = await jwtVerify(issued, jwks, { issuer: baseUrl });
          expect(protectedHeader.alg).toBe(client.alg);
          verifiedAlgorithms.add(client.alg);
        } catch (error) {
          failures.push(`${client.clientId}: its ${client.alg} token does not verify against /keys: ${String(error)}`);
        }
      }
      expect(failures).toEqual([]);
      // And every algorithm's active key signs now: a new client per algorithm, after the kills.
      for (const alg of ALGORITHMS) {
        const created = await callAdmin(baseUrl, token, "CreateClient", { name: `after-${alg}`, scopes: ["crash:test"], signingAlgorithm: PROTO_ALGORITHM[alg] });
        if (created.kind !== "ok") throw new Error(`CreateClient after the kills: ${JSON.stringify(created)}`);
        const { client, clientSecret } = created.body as { client: { clientId: string }; clientSecret: string };
        const issued = await tokenFor(baseUrl, client.clientId, clientSecret);
        expect(typeof issued, `${alg}: ${JSON.stringify(issued)}`).toBe("string");
        const { protectedHeader } = await jwtVerify(issued as string, jwks, { issuer: baseUrl });
        expect(protectedHeader.alg).toBe(alg);
        verifiedAlgorithms.add(alg);
      }
      expect([...verifiedAlgorithms].sort()).toEqual([...ALGORITHMS].sort());
      console.info(`crash-safety: ${JSON.stringify({ ...counts, clients: all.length, uncertain: all.filter((c) => !c.certain).length, keyStates })}`);
    },
    120_000,
  );
});

async function adminToken(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(ADMIN_CLIENT.clientId, ADMIN_CLIENT.clientSecret) },
    body: "grant_type=client_credentials",
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

async function tokenFor(baseUrl: string, clientId: string, clientSecret: string): Promise<string | { status: number }> {
  const response = await fetch(`${baseUrl}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(clientId, clientSecret) },
    body: "grant_type=client_credentials",
  });
  if (response.status !== 200) return { status: response.status };
  return ((await response.json()) as { access_token: string }).access_token;
}

/** One ClientAdminService call over Connect JSON; "lost" when no complete answer arrived. */
async function callAdmin(baseUrl: string, token: string, method: string, body: object): Promise<CallOutcome> {
  try {
    const response = await fetch(`${baseUrl}/tessera.v1.ClientAdminService/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
    const parsed = (await response.json()) as Record<string, unknown>;
    if (response.status === 200) return { kind: "ok", body: parsed };
    return { kind: "refused", status: response.status, code: String(parsed.code) };
  } catch (error) {
    return { kind: "lost", error: String(error) };
  }
}
