/**
 * What one replica tells the others after committing a change. Announcements are hints to
 * re-read, never the data itself, so a lost or duplicated one is harmless: the periodic and
 * on-reconnect resyncs repair anything missed.
 */
export type Change =
  | { readonly kind: "client"; readonly clientId: string }
  | { readonly kind: "revocation"; readonly jti: string; readonly clientId: string; readonly expireTime: number }
  | { readonly kind: "keys" }
  /** Trusted issuers or federation/delegation policies changed: their directory reloads whole. */
  | { readonly kind: "federation" };

export function parseChange(payload: string): Change | undefined {
  try {
    const value = JSON.parse(payload) as Partial<Record<string, unknown>>;
    if (value.kind === "client" && typeof value.clientId === "string") return { kind: "client", clientId: value.clientId };
    if (value.kind === "keys") return { kind: "keys" };
    if (value.kind === "federation") return { kind: "federation" };
    if (value.kind === "revocation" && typeof value.jti === "string" && typeof value.clientId === "string" && typeof value.expireTime === "number") {
      return { kind: "revocation", jti: value.jti, clientId: value.clientId, expireTime: value.expireTime };
    }
  } catch {
    // Not ours or malformed: ignore it; the periodic resync covers anything real.
  }
  return undefined;
}

/** How a replica hears about changes; implemented on PostgreSQL LISTEN (src/store/change-listener.ts). */
export interface ChangeSource {
  /**
   * Delivers changes until stopped. `onResync` runs whenever announcements may have been lost
   * (the connection dropped and came back), and the subscriber must then resync everything it holds.
   */
  subscribe(handlers: { onChange(change: Change): void; onResync(): void }): Promise<() => Promise<void>>;
}
