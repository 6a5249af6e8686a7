/**
 * The clients in memory: the token and introspection hot paths read clients and secret hashes
 * from here, never from the database. Changes made through this process are applied as they
 * commit; changes made by other replicas arrive by refresh() (their announcements) and resync().
 *
 * An id not in memory is answered "unknown" from memory too, without a query. Reading storage on
 * a miss would let anyone turn random ids into database load and tell known ids from unknown
 * ones by timing (a query is most of a millisecond). The cost is a race: a client created on
 * another replica a moment ago is unknown here until its announcement arrives (milliseconds;
 * after a lost connection, the resync that follows the reconnect). A caller that was handed
 * fresh credentials and gets invalid_client in that window succeeds on its retry. A read on a
 * miss, even rate-limited, would only narrow that window, and would hand the rate limit's budget
 * to whoever sends the most random ids.
 *
 * Start-up reads every client a page at a time, so the rows of one giant result never sit in
 * memory beside the registry. A resync afterwards lists only each client's version, re-reads
 * the clients whose version differs or that are missing, and drops the ones no longer listed.
 */
import type { Client, ClientRecord } from "./client.js";
import type { ClientKeysetQuery, ClientRepository, ClientVersion } from "./client-repository.js";

/**
 * Clients (with their secrets) per query when loading, and per batch when re-reading changed
 * ones. Large enough that a big registry starts as fast as with one query, small enough that
 * start-up does not hold every row of the result at once; much smaller pages slow start-up.
 */
const RECORD_PAGE_SIZE = 10_000;
/** Versions per query when resyncing: three small columns a row, so pages can be larger. */
const VERSION_PAGE_SIZE = 10_000;

export type ClientRegistryStorage = Pick<ClientRepository, "findClient" | "findClients" | "listClientsAfter" | "listClientVersionsAfter">;

export interface ClientRegistryOptions {
  readonly repository: ClientRegistryStorage;
  readonly recordPageSize?: number;
  readonly versionPageSize?: number;
}

/** One loadAll or resync in flight: what it has seen listed, and what changed under it. */
interface Pass {
  /** Ids present in storage when their page was read. */
  readonly listed: Set<string>;
  /**
   * Ids that a put, remove, refresh or first-use read changed in memory since the pass began.
   * Those are at least as fresh as the pass's snapshot (which may predate them), so the pass
   * leaves them alone: it must not re-insert a client deleted a moment ago, overwrite a fresher
   * record, or drop a client created after its page was read.
   */
  readonly changedMeanwhile: Set<string>;
}

export class ClientRegistry {
  private readonly records = new Map<string, ClientRecord>();
  private readonly repository: ClientRegistryStorage;
  private readonly recordPageSize: number;
  private readonly versionPageSize: number;
  private current: Pass | undefined;
  /**
   * Passes run one after another: two interleaved snapshots could leave the older one's
   * records in place, and neither can tell the other's writes from live changes.
   */
  private passes: Promise<void> = Promise.resolve();

  constructor(options: ClientRegistryOptions) {
    this.repository = options.repository;
    this.recordPageSize = options.recordPageSize ?? RECORD_PAGE_SIZE;
    this.versionPageSize = options.versionPageSize ?? VERSION_PAGE_SIZE;
  }

  /** Reads every client with its secrets, in keyset pages by id (start-up). */
  loadAll(): Promise<void> {
    return this.runPass(async (pass) => {
      const pages = keysetPages((query) => this.repository.listClientsAfter(query), this.recordPageSize, (record) => record.client.id);
      for await (const page of pages) {
        for (const record of page) {
          pass.listed.add(record.client.id);
          if (!pass.changedMeanwhile.has(record.client.id)) this.records.set(record.client.id, record);
        }
      }
    });
  }

  /**
   * Brings memory in step with storage after announcements may have been missed, reading in
   * full only the clients whose version differs from the one held or that are not held at all.
   */
  resync(): Promise<void> {
    return this.runPass(async (pass) => {
      const pages = keysetPages((query) => this.repository.listClientVersionsAfter(query), this.versionPageSize, (version) => version.id);
      for await (const versions of pages) {
        const stale: string[] = [];
        for (const version of versions) {
          pass.listed.add(version.id);
          if (pass.changedMeanwhile.has(version.id)) continue;
          const held = this.records.get(version.id);
          if (!held || !isVersion(held.client, version)) stale.push(version.id);
        }
        for (let start = 0; start < stale.length; start += this.recordPageSize) {
          await this.reread(stale.slice(start, start + this.recordPageSize), pass);
        }
      }
    });
  }

  /**
   * The client from memory; undefined for an id no replica has announced (see the top of this
   * file for why a miss never reads storage).
   */
  find(clientId: string): ClientRecord | undefined {
    return this.records.get(clientId);
  }

  /** Re-reads one client after another replica changed it. */
  async refresh(clientId: string): Promise<void> {
    const stored = await this.repository.findClient(clientId);
    if (stored) this.keep(stored);
    else this.remove(clientId);
  }

  put(record: ClientRecord): void {
    this.keep(record);
  }

  remove(clientId: string): void {
    this.current?.changedMeanwhile.add(clientId);
    this.records.delete(clientId);
  }

  get size(): number {
    return this.records.size;
  }

  /** Whether a client held in memory passes `test`; after loadAll, every client is held. */
  some(test: (record: ClientRecord) => boolean): boolean {
    for (const record of this.records.values()) if (test(record)) return true;
    return false;
  }

  private keep(record: ClientRecord): void {
    this.current?.changedMeanwhile.add(record.client.id);
    this.records.set(record.client.id, record);
  }

  private runPass(listAndApply: (pass: Pass) => Promise<void>): Promise<void> {
    const run = async () => {
      const pass: Pass = { listed: new Set(), changedMeanwhile: new Set() };
      this.current = pass;
      try {
        await listAndApply(pass);
        // Not listed means deleted, unless it changed meanwhile (created after its page was read).
        for (const id of this.records.keys()) {
          if (!pass.listed.has(id) && !pass.changedMeanwhile.has(id)) this.records.delete(id);
        }
      } finally {
        this.current = undefined;
      }
    };
    const done = this.passes.then(run);
    this.passes = done.catch(() => {});
    return done;
  }

  /** Reads these listed clients again; one missing now was deleted after its page was read. */
  private async reread(clientIds: readonly string[], pass: Pass): Promise<void> {
    const found = new Map((await this.repository.findClients(clientIds)).map((record) => [record.client.id, record]));
    for (const clientId of clientIds) {
      if (pass.changedMeanwhile.has(clientId)) continue;
      const record = found.get(clientId);
      if (record) this.records.set(clientId, record);
      else this.records.delete(clientId);
    }
  }
}

/** A keyset-paged listing, page by page in id order, until a page comes back short. */
async function* keysetPages<T>(list: (query: ClientKeysetQuery) => Promise<T[]>, limit: number, idOf: (item: T) => string): AsyncGenerator<T[]> {
  let afterId: string | undefined;
  for (;;) {
    const page = await list({ afterId, limit });
    yield page;
    if (page.length < limit) return;
    afterId = idOf(page[page.length - 1]!);
  }
}

function isVersion(client: Client, version: ClientVersion): boolean {
  return client.revision === version.revision && client.updateTime.getTime() === version.updateTime.getTime();
}
