/**
 * Starting a real Tessera on a free port for a test, on the embedded database (a copy of the
 * migrated template) or on the PostgreSQL at 127.0.0.1:5432 (a fresh schema).
 */
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { inject } from "vitest";
import { startApp, type App } from "../../src/app/app.js";
import { loadConfig, type Config } from "../../src/config/config.js";
import type { FederationDirectory } from "../../src/federation/federation.js";
import { createLogger } from "../../src/log/logger.js";
import { freePort } from "./ports.js";
import { createTestSchema, dropSchema } from "./postgres.js";

export type StorageKind = "embedded" | "postgres";
export const STORAGE_KINDS: readonly StorageKind[] = ["embedded", "postgres"];

export const ADMIN_CLIENT = {
  clientId: "tessera-admin",
  clientSecret: "admin-secret-for-tests-0123456789abcdefghijklmnop",
} as const;

export interface TestServer {
  readonly url: string;
  readonly port: number;
  readonly config: Config;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  /** The server's in-memory trusted issuers and policies (App.federationDirectory). */
  readonly federationDirectory: FederationDirectory;
  /** Runs the periodic work now (key lifecycle); see App.maintain. */
  maintain(): Promise<void>;
  /** Stops the server; keeps its storage for a restart. */
  stop(): Promise<void>;
  /** Stops the server and deletes its storage. */
  destroy(): Promise<void>;
  /** A token for the bootstrap admin client, from /oauth/token. */
  adminToken(scope?: string): Promise<string>;
}

export interface TestServerOptions {
  readonly storage: StorageKind;
  readonly env?: Readonly<Record<string, string>>;
  /** Reuse storage from an earlier server (restart). */
  readonly reuse?: Pick<TestServer, "dataDir" | "databaseUrl">;
  /** Where the server's JSON log lines go (stderr by default). */
  readonly logDestination?: NodeJS.WritableStream;
  /** The server's clock, for tests that move time. */
  readonly now?: () => Date;
}

/** One KEK for a whole test run on PostgreSQL, as an operator would configure it. */
export const TEST_KEK = randomBytes(32).toString("base64");

export async function startTestServer(options: TestServerOptions): Promise<TestServer> {
  let dataDir = options.reuse?.dataDir;
  let databaseUrl = options.reuse?.databaseUrl;
  if (!dataDir) {
    dataDir = mkdtempSync(path.join(tmpdir(), "tessera-test-"));
    if (options.storage === "embedded") cpSync(inject("pgliteTemplate"), path.join(dataDir, "pglite"), { recursive: true });
  }
  if (options.storage === "postgres" && !databaseUrl) {
    databaseUrl = (await createTestSchema()).url;
  }
  const port = await freePort();
  const env: Record<string, string> = {
    PORT: String(port),
    TESSERA_HOST: "127.0.0.1",
    TESSERA_ISSUER: `http://127.0.0.1:${port}`,
    TESSERA_DATA_DIR: dataDir,
    TESSERA_ADMIN_CLIENT_ID: ADMIN_CLIENT.clientId,
    TESSERA_ADMIN_CLIENT_SECRET: ADMIN_CLIENT.clientSecret,
    TESSERA_LOG_LEVEL: process.env.TESSERA_TEST_LOG_LEVEL ?? "silent",
    ...(databaseUrl ? { DATABASE_URL: databaseUrl, TESSERA_KEK: TEST_KEK } : {}),
    ...options.env,
  };
  const config = loadConfig(env);
  const app: App = await startApp(config, {
    log: createLogger({ level: config.logLevel, destination: options.logDestination ?? process.stderr }),
    ...(options.now ? { now: options.now } : {}),
  });
  const url = `http://127.0.0.1:${app.port}`;
  const keptDataDir = dataDir;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await app.close();
  };
  return {
    url,
    port: app.port,
    config,
    dataDir: keptDataDir,
    databaseUrl,
    federationDirectory: app.federationDirectory,
    stop,
    maintain: () => app.maintain(),
    async destroy() {
      await stop();
      rmSync(keptDataDir, { recursive: true, force: true });
      // Drops the schema also when this server reused another's: the last one out cleans up.
      if (databaseUrl) await dropSchema(new URL(databaseUrl).searchParams.get("schema")!);
    },
    async adminToken(scope) {
      const response = await fetch(`${url}/oauth/token`, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          authorization: `Basic ${Buffer.from(`${ADMIN_CLIENT.clientId}:${ADMIN_CLIENT.clientSecret}`).toString("base64")}`,
        },
        body: new URLSearchParams({ grant_type: "client_credentials", ...(scope ? { scope } : {}) }),
      });
      if (response.status !== 200) throw new Error(`admin token request failed: ${response.status} ${await response.text()}`);
      return ((await response.json()) as { access_token: string }).access_token;
    },
  };
}

/** Basic credentials per RFC 6749 §2.3.1 (form-urlencoded, then base64). */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, "+");
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString("base64")}`;
}
