/**
 * Bootstrapping an admin client without a running server (`tessera admin bootstrap`): open the
 * storage the server's configuration names, bring its schema up to date, and create an admin
 * client — or give an existing one a new secret. Part of the composition root, like app/: it
 * reads Config and wires the store into the domain.
 */
import { ClientAdmin } from "./clients/client-admin.js";
import { ClientRegistry } from "./clients/client-registry.js";
import { generateClientSecret } from "./clients/client-secret.js";
import type { Config } from "./config/config.js";
import { TesseraError } from "./errors.js";
import { isUsable } from "./oauth/client-authentication/client-authenticator.js";
import { PrismaClientRepository } from "./store/client-store.js";
import { openDatabase } from "./store/database.js";
import { applyMigrations } from "./store/migrations.js";
import { MIGRATIONS_DIR } from "./store/migrations-dir.js";

export interface BootstrappedAdmin {
  readonly clientId: string;
  /** The new plaintext secret: print it once, never store it. */
  readonly clientSecret: string;
  /** false when the client existed and only its secret (and missing admin scopes) changed. */
  readonly created: boolean;
  readonly scopes: readonly string[];
  readonly audiences: readonly string[];
}

export async function bootstrapAdminClient(config: Config, options: { clientId: string; now?: Date }): Promise<BootstrappedAdmin> {
  const now = options.now ?? new Date();
  const database = await openDatabase(config.storage);
  try {
    const session = await database.session();
    try {
      await applyMigrations(session, { migrationsDir: MIGRATIONS_DIR });
    } finally {
      await session.release();
    }
    const repository = new PrismaClientRepository(database.prisma);
    const admin = new ClientAdmin({ repository, registry: new ClientRegistry({ repository }), maxTokenLifetimeSeconds: config.maxTokenLifetimeSeconds });
    const existing = await repository.findClient(options.clientId);
    // A new secret for a client that cannot authenticate would be printed for nothing.
    if (existing && !isUsable(existing, now)) {
      throw new TesseraError("failed_precondition", `client ${options.clientId} exists but is inactive or expired: reactivate it, or choose another id with --id`);
    }
    const { secret } = generateClientSecret("current", now);
    const record = await admin.ensureBootstrapAdmin({
      clientId: options.clientId,
      clientSecret: secret,
      audience: config.issuer,
      description: "Created by `tessera admin bootstrap`.",
    });
    return {
      clientId: record.client.id,
      clientSecret: secret,
      created: existing === undefined,
      scopes: record.client.allowedScopes,
      audiences: record.client.allowedAudiences,
    };
  } finally {
    await database.close();
  }
}
