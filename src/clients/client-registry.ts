/**
 * The clients in memory: the token and introspection hot paths read clients and secret hashes
 * from here, never from the database. Changes made through this process are applied as they
 * commit; a client not in memory (created by another replica) is read once on first use.
 */
import { CLIENT_ID_PATTERN, type ClientRecord } from "./client.js";
import type { ClientRepository } from "./client-repository.js";

/** How long "no such client" is remembered, so random ids cannot make every request a query. */
const NEGATIVE_TTL_MS = 5_000;
/** At most this many unknown ids are remembered; the oldest are forgotten first. */
const NEGATIVE_CAPACITY = 10_000;

export class ClientRegistry {
  private readonly records = new Map<string, ClientRecord>();
  /** Unknown client ids → when to forget them (insertion order = age). */
  private readonly unknown = new Map<string, number>();

  constructor(
    private readonly repository: Pick<ClientRepository, "findClient" | "listAllClients">,
    private readonly clock: () => number = Date.now,
  ) {}

  async loadAll(): Promise<void> {
    const all = await this.repository.listAllClients();
    const ids = new Set(all.map((record) => record.client.id));
    for (const id of this.records.keys()) if (!ids.has(id)) this.records.delete(id);
    for (const record of all) this.records.set(record.client.id, record);
    this.unknown.clear();
  }

  /**
   * The client from memory, falling back to storage for one this replica has not seen yet
   * (created elsewhere a moment ago). A miss is remembered briefly and boundedly.
   */
  async find(clientId: string): Promise<ClientRecord | undefined> {
    // No stored id falls outside the alphabet, so such an id is answered without a query
    // (and bytes PostgreSQL refuses, such as NUL, never reach it).
    if (!CLIENT_ID_PATTERN.test(clientId)) return undefined;
    const cached = this.records.get(clientId);
    if (cached) return cached;
    const forgetAt = this.unknown.get(clientId);
    if (forgetAt !== undefined) {
      if (forgetAt > this.clock()) return undefined;
      this.unknown.delete(clientId);
    }
    const stored = await this.repository.findClient(clientId);
    if (stored) this.records.set(clientId, stored);
    else this.rememberUnknown(clientId);
    return stored;
  }

  /** Re-reads one client after another replica changed it. */
  async refresh(clientId: string): Promise<void> {
    this.unknown.delete(clientId);
    const stored = await this.repository.findClient(clientId);
    if (stored) this.records.set(clientId, stored);
    else this.records.delete(clientId);
  }

  private rememberUnknown(clientId: string): void {
    if (this.unknown.size >= NEGATIVE_CAPACITY) {
      const oldest = this.unknown.keys().next().value;
      if (oldest !== undefined) this.unknown.delete(oldest);
    }
    this.unknown.set(clientId, this.clock() + NEGATIVE_TTL_MS);
  }

  get unknownSize(): number {
    return this.unknown.size;
  }

  /** The client from memory only; for verification paths that must never wait on storage. */
  peek(clientId: string): ClientRecord | undefined {
    return this.records.get(clientId);
  }

  put(record: ClientRecord): void {
    this.unknown.delete(record.client.id);
    this.records.set(record.client.id, record);
  }

  remove(clientId: string): void {
    this.records.delete(clientId);
  }

  get size(): number {
    return this.records.size;
  }
}
