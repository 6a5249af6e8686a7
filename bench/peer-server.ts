/**
 * The peer for `npm run bench`: node-oidc-provider configured for Tessera's job — the client
 * credentials grant, RFC 9068 JWT access tokens signed with one algorithm, client_secret_basic —
 * as ../shared/notes/performance.md describes. Always its own process, never inside the load
 * generator's. Prints one JSON line `{"ready":true,"port":…}` on stdout once it listens.
 *
 *   PEER_PORT=… PEER_ALG=RS256|ES256 PEER_CLIENTS='[{"id":"…","secret":"…"}]' node --import tsx bench/peer-server.ts
 *
 * Two resource servers: JWT_RESOURCE (the default for every token request, JWT format) and
 * OPAQUE_RESOURCE (opaque format, requested with `resource=`), because oidc-provider 9 refuses to
 * introspect structured (JWT) access tokens (lib/shared/reject_structured_tokens.js answers
 * `unsupported_token_type`); its introspection is measured on opaque tokens.
 */
import { generateKeyPairSync } from "node:crypto";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

export const JWT_RESOURCE = "https://api.bench.example";
export const OPAQUE_RESOURCE = "https://opaque.bench.example";
export const BENCH_SCOPE = "bench:read";

const port = Number(process.env.PEER_PORT ?? "0");
const alg = process.env.PEER_ALG ?? "RS256";
if (alg !== "RS256" && alg !== "ES256") throw new Error("PEER_ALG must be RS256 or ES256");
const clients = JSON.parse(process.env.PEER_CLIENTS ?? "[]") as { id: string; secret: string }[];

// One signing key of the measured algorithm, as Tessera has one active key per algorithm.
const { privateKey } = alg === "RS256" ? generateKeyPairSync("rsa", { modulusLength: 2048 }) : generateKeyPairSync("ec", { namedCurve: "P-256" });
const jwk = { ...privateKey.export({ format: "jwk" }), kid: `peer-${alg.toLowerCase()}`, alg, use: "sig" };

const provider = new Provider(`http://127.0.0.1:${port}`, {
  jwks: { keys: [jwk] },
  scopes: [BENCH_SCOPE],
  clients: clients.map((client) => ({
    client_id: client.id,
    client_secret: client.secret,
    grant_types: ["client_credentials"],
    redirect_uris: [],
    response_types: [],
    scope: BENCH_SCOPE,
    token_endpoint_auth_method: "client_secret_basic",
    // With only a non-RSA key in jwks the client's default RS256 id_token alg has no key, and
    // every token request fails with invalid_client_metadata (performance.md).
    ...(alg === "RS256" ? {} : { id_token_signed_response_alg: alg }),
  })),
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx: unknown, _client: unknown, oneOf: string | undefined) => oneOf ?? JWT_RESOURCE,
      useGrantedResource: async () => false,
      getResourceServerInfo: async (_ctx: unknown, resourceIndicator: string) => {
        if (resourceIndicator === OPAQUE_RESOURCE) {
          return { scope: BENCH_SCOPE, audience: OPAQUE_RESOURCE, accessTokenFormat: "opaque", accessTokenTTL: 3600 };
        }
        return { scope: BENCH_SCOPE, audience: JWT_RESOURCE, accessTokenFormat: "jwt", accessTokenTTL: 3600, jwt: { sign: { alg } } };
      },
    },
  },
});
// Like Tessera at TESSERA_LOG_LEVEL=warn: only report failures, never every request.
provider.on("server_error", (_ctx: unknown, error: Error) => process.stderr.write(`peer server_error: ${error.message}\n`));

const server = provider.listen(port, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ ready: true, port: (server.address() as AddressInfo).port })}\n`);
});
process.once("SIGTERM", () => server.close(() => process.exit(0)));
