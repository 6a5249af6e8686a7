/**
 * `npm run soak`: a mixed load (token requests, introspection, admin writes) against a real
 * Tessera process for a fixed time, then the checks a reviewer asks for: zero 5xx, every
 * acknowledged admin write readable afterwards, and RSS growth under 10% after warm-up.
 * Not part of `npm test`: it runs for a minute.
 *   npm run soak -- [--duration 60] [--postgres]
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { freePort } from "../test/support/ports.js";
import { spawnServer } from "../test/support/server-process.js";

const { values } = parseArgs({ options: { duration: { type: "string", default: "60" }, postgres: { type: "boolean", default: false } } });
const durationMs = Number(values.duration) * 1000;
const WARM_UP_MS = Math.min(10_000, durationMs / 6);
const ADMIN = { id: "soak-admin", secret: randomBytes(32).toString("base64url") };

const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const dataDir = mkdtempSync(path.join(tmpdir(), "tessera-soak-"));
const schema = `soak_${randomBytes(4).toString("hex")}`;
const env: Record<string, string> = {
  PORT: String(port),
  TESSERA_HOST: "127.0.0.1",
  TESSERA_DATA_DIR: dataDir,
  TESSERA_LOG_LEVEL: "info",
  TESSERA_ADMIN_CLIENT_ID: ADMIN.id,
  TESSERA_ADMIN_CLIENT_SECRET: ADMIN.secret,
};
if (values.postgres) {
  env.DATABASE_URL = `postgres://postgres@127.0.0.1:5432/test?schema=${schema}`;
  env.TESSERA_KEK = randomBytes(32).toString("base64");
}
const server = spawnServer(env);
await server.listening;

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.child.pid}/status`, "utf8"))?.[1] ?? 0) * 1024;

async function token(id: string, secret: string, scope?: string): Promise<Response> {
  return fetch(`${url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(id, secret) },
    body: new URLSearchParams({ grant_type: "client_credentials", ...(scope ? { scope } : {}) }),
  });
}
const adminToken = ((await (await token(ADMIN.id, ADMIN.secret, "tessera:admin tessera:introspect")).json()) as { access_token: string }).access_token;
const admin = (method: string, body: object) =>
  fetch(`${url}/tessera.v1.ClientAdminService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${adminToken}` },
    body: JSON.stringify(body),
  });

const worker = (await (await admin("CreateClient", { name: "soak-worker", scopes: ["s"] })).json()) as { client: { clientId: string }; clientSecret: string };

const counts = { token: 0, introspect: 0, create: 0, status5xx: 0, other4xx: 0, errors: 0 };
const acknowledged: string[] = [];
const started = Date.now();
let rssAfterWarmUp = 0;
let peakRss = 0;
const sampler = setInterval(() => {
  const current = rss();
  peakRss = Math.max(peakRss, current);
  if (!rssAfterWarmUp && Date.now() - started >= WARM_UP_MS) rssAfterWarmUp = current;
}, 500);

function tally(response: Response): void {
  if (response.status >= 500) counts.status5xx++;
  else if (response.status >= 400 && response.status !== 429) counts.other4xx++;
}

async function loop(kind: "token" | "introspect" | "create"): Promise<void> {
  while (Date.now() - started < durationMs) {
    try {
      if (kind === "token") {
        const response = await token(worker.client.clientId, worker.clientSecret);
        tally(response);
        await response.arrayBuffer();
        counts.token++;
      } else if (kind === "introspect") {
        const issued = (await (await token(worker.client.clientId, worker.clientSecret)).json()) as { access_token: string };
        const response = await fetch(`${url}/oauth/introspect`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Bearer ${adminToken}` },
          body: new URLSearchParams({ token: issued.access_token }),
        });
        tally(response);
        await response.arrayBuffer();
        counts.introspect++;
      } else {
        const response = await admin("CreateClient", { name: `soak-${counts.create}`, scopes: ["s"] });
        tally(response);
        if (response.status === 200) acknowledged.push(((await response.json()) as { client: { clientId: string } }).client.clientId);
        else await response.arrayBuffer();
        counts.create++;
        // Admin writes at a busy operator's pace (about 10/s), not a flood.
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    } catch {
      counts.errors++;
    }
  }
}

await Promise.all([...Array.from({ length: 12 }, () => loop("token")), ...Array.from({ length: 4 }, () => loop("introspect")), ...Array.from({ length: 2 }, () => loop("create"))]);
clearInterval(sampler);
const rssAtEnd = rss();

let lost = 0;
for (const clientId of acknowledged) {
  const response = await admin("GetClient", { clientId });
  if (response.status !== 200) lost++;
  await response.arrayBuffer();
}

server.child.kill("SIGTERM");
await server.exited;
rmSync(dataDir, { recursive: true, force: true });
if (values.postgres) {
  const db = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/test" });
  await db.connect();
  await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db.end();
}

const growth = rssAfterWarmUp ? (rssAtEnd - rssAfterWarmUp) / rssAfterWarmUp : 0;
const report = {
  storage: values.postgres ? "postgres" : "embedded",
  seconds: durationMs / 1000,
  requests: counts,
  acknowledgedCreates: acknowledged.length,
  lostCreates: lost,
  rssMiB: { afterWarmUp: +(rssAfterWarmUp / 2 ** 20).toFixed(1), atEnd: +(rssAtEnd / 2 ** 20).toFixed(1), peak: +(peakRss / 2 ** 20).toFixed(1) },
  rssGrowthPercent: +(growth * 100).toFixed(1),
};
console.log(JSON.stringify(report, null, 2));
const failures = [
  counts.status5xx > 0 && `${counts.status5xx} responses were 5xx`,
  counts.errors > 0 && `${counts.errors} requests failed at the socket`,
  lost > 0 && `${lost} acknowledged creates are not readable`,
  growth >= 0.1 && `RSS grew ${report.rssGrowthPercent}% after warm-up`,
].filter(Boolean);
if (failures.length > 0) {
  console.error(`soak failed: ${failures.join("; ")}`);
  process.exit(1);
}
console.log("soak passed");
