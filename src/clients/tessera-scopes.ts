/**
 * Scopes that unlock Tessera's own APIs. They live beside the client registry because a
 * client's allowed scopes decide who holds them; OAuth (introspection, revocation), the
 * admin use cases and the transports all read them from here.
 */
export const ADMIN_SCOPE = "tessera:admin";
export const CLIENTS_READ_SCOPE = "tessera:clients:read";
export const INTROSPECT_SCOPE = "tessera:introspect";
/** Revoking tokens of other clients; every client may revoke its own (RFC 7009 §2.1). */
export const REVOKE_SCOPE = "tessera:revoke";
