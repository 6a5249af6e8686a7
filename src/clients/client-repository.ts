/**
 * The storage the client registry and admin use cases need; implemented in src/store/.
 */
import type { AuditEntry } from "../audit/audit-event.js";
import type { Client, ClientRecord, ClientSecretHash } from "./client.js";

export type NewClient = Omit<Client, "revision" | "createTime" | "updateTime" | "status"> & { readonly status?: Client["status"] };

export interface ClientRepository {
  /** Inserts the client, its secret and the audit entry in one transaction. already_exists if the id is taken. */
  createClient(input: { client: NewClient; secret: ClientSecretHash; audit: AuditEntry }): Promise<ClientRecord>;
  findClient(clientId: string): Promise<ClientRecord | undefined>;
  /** Every client with its secrets, for warming the in-memory registry. */
  listAllClients(): Promise<ClientRecord[]>;
  /**
   * Creates the client if missing; otherwise makes sure it allows `client.allowedScopes` and
   * authenticates with `secret` (replacing the current secret hash if it changed).
   */
  ensureClient(input: { client: NewClient; secret: ClientSecretHash; audit: AuditEntry }): Promise<ClientRecord>;
}
