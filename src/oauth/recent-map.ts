/**
 * A map bounded in entries and in bytes that forgets the least recently touched entry first: the
 * shape of every cache keyed by what callers send (addresses, client ids, assertion ids). A bound
 * on entries alone is not a bound on memory when a caller picks the keys: 100,000 keys of 16 KB
 * are 1.6 GB. Keys are charged at two bytes a character (V8 may store them as one, never more
 * than two) plus a fixed overhead for the entry and its value, which callers keep small.
 */

/** What a Map entry with a small object value costs beyond its key, roughly (V8, 64-bit). */
export const ENTRY_OVERHEAD_BYTES = 128;

export function entryBytes(key: string): number {
  return 2 * key.length + ENTRY_OVERHEAD_BYTES;
}

export interface RecentMapLimits {
  readonly maxEntries: number;
  readonly maxBytes: number;
}

export class RecentMap<V> {
  private readonly entries = new Map<string, V>();
  private bytes = 0;

  constructor(private readonly limits: RecentMapLimits) {}

  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  /** Looks without making the entry the most recent. */
  peek(key: string): V | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: V): void {
    if (this.entries.delete(key)) this.bytes -= entryBytes(key);
    const cost = entryBytes(key);
    // A key that alone exceeds the budget is not kept at all (and evicts nothing).
    if (cost > this.limits.maxBytes) return;
    this.entries.set(key, value);
    this.bytes += cost;
    while (this.entries.size > this.limits.maxEntries || this.bytes > this.limits.maxBytes) {
      const oldest = this.entries.keys().next().value!;
      this.delete(oldest);
    }
  }

  delete(key: string): void {
    if (this.entries.delete(key)) this.bytes -= entryBytes(key);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The bytes charged for the entries held. */
  get byteSize(): number {
    return this.bytes;
  }
}
