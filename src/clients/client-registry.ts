/**
 * The clients in memory: the token and introspection hot paths read clients and secret hashes
 * from here, never from the database. Changes made through this process are applied as they
 * commit; a client not in memory (created by another replica) is read once on first use.
 */
import type { ClientRecord } from "./client.js";
import type { ClientRepository } from "./client-repository.js";

export class ClientRegistry {
  private readonly records = new Map<string, ClientRecord>();

  constructor(private readonly repository: Pick<ClientRepository, "findClient" | "listAllClients">) {}

  async loadAll(): Promise<void> {
    const all = await this.repository.listAllClients();
    this.records.clear();
    for (const record of all) this.records.set(record.client.id, record);
  }

  /** The client from memory, falling back to storage for one this process has not seen. */
  async find(clientId: string): Promise<ClientRecord | undefined> {
    const cached = this.records.get(clientId);
    if (cached) return cached;
    const stored = await this.repository.findClient(clientId);
    if (stored) this.records.set(clientId, stored);
    return stored;
  }

  /** The client from memory only; for verification paths that must never wait on storage. */
  peek(clientId: string): ClientRecord | undefined {
    return this.records.get(clientId);
  }

  put(record: ClientRecord): void {
    this.records.set(record.client.id, record);
  }

  remove(clientId: string): void {
    this.records.delete(clientId);
  }

  get size(): number {
    return this.records.size;
  }
}
