/**
 * Tessera replicas for a test: separate processes sharing one fresh PostgreSQL schema, one KEK
 * and one issuer, as they would behind a load balancer (a token from one verifies on another).
 */
import { randomBytes } from "node:crypto";
import { freePort } from "./ports.js";
import { createTestSchema } from "./postgres.js";
import { spawnServer, type ServerProcess } from "./server-process.js";
import { ADMIN_CLIENT } from "./test-server.js";

export interface Replica {
  readonly url: string;
  readonly process: ServerProcess;
}

export interface Replicas {
  readonly replicas: readonly Replica[];
  /** Stops every process (SIGTERM, then waits for it) and drops the schema. */
  stop(): Promise<void>;
}

export async function startReplicas(options: {
  /** The schema's name prefix. */
  readonly schema: string;
  readonly count: number;
  readonly issuer: string;
  /** Further settings for every replica. */
  readonly env?: Readonly<Record<string, string>>;
}): Promise<Replicas> {
  const schema = await createTestSchema(options.schema);
  const kek = randomBytes(32).toString("base64");
  const ports = await Promise.all(Array.from({ length: options.count }, () => freePort()));
  // All start at once: migrations and first keys must still happen exactly once.
  const replicas = ports.map((port) => ({
    url: `http://127.0.0.1:${port}`,
    process: spawnServer({
      PORT: String(port),
      TESSERA_HOST: "127.0.0.1",
      TESSERA_ISSUER: options.issuer,
      DATABASE_URL: schema.url,
      TESSERA_KEK: kek,
      TESSERA_ADMIN_CLIENT_ID: ADMIN_CLIENT.clientId,
      TESSERA_ADMIN_CLIENT_SECRET: ADMIN_CLIENT.clientSecret,
      // The "tessera listening" line that tells a process is up is logged at info.
      TESSERA_LOG_LEVEL: "info",
      ...options.env,
    }),
  }));
  const stop = async () => {
    for (const replica of replicas) {
      replica.process.child.kill("SIGTERM");
      await replica.process.exited;
    }
    await schema.drop();
  };
  try {
    await Promise.all(replicas.map((replica) => replica.process.listening));
  } catch (error) {
    await stop();
    throw error;
  }
  return { replicas, stop };
}
