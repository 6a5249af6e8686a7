/**
 * The floor for `npm run bench`: the least a Node token endpoint can do on this machine — a bare
 * node:http server with clients in a Map, SHA-256 secret hashes compared with timingSafeEqual,
 * an RFC 9068 JWT assembled by hand and signed with the callback form of crypto.sign. No
 * validation, limits, metrics, logging or database. What Tessera spends above it per request is
 * the price of its layers; what the floor spends is Node's HTTP stack and the signature.
 * Prints `{"ready":true,"port":…}` on stdout once it listens.
 *
 *   FLOOR_PORT=… FLOOR_ALG=RS256|ES256 FLOOR_CLIENTS='[{"id":"…","secret":"…"}]' node --import tsx bench/floor-server.ts
 */
import { createHash, generateKeyPairSync, randomBytes, sign, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

const port = Number(process.env.FLOOR_PORT ?? "0");
const alg = process.env.FLOOR_ALG ?? "RS256";
if (alg !== "RS256" && alg !== "ES256") throw new Error("FLOOR_ALG must be RS256 or ES256");
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = alg === "RS256" ? generateKeyPairSync("rsa", { modulusLength: 2048 }) : generateKeyPairSync("ec", { namedCurve: "P-256" });
const keyInput = alg === "RS256" ? privateKey : { key: privateKey, dsaEncoding: "ieee-p1363" as const };
const header = Buffer.from(JSON.stringify({ alg, kid: "floor", typ: "at+jwt" })).toString("base64url");

const sha256 = (value: string) => createHash("sha256").update(value, "utf8").digest();
const clients = new Map(
  (JSON.parse(process.env.FLOOR_CLIENTS ?? "[]") as { id: string; secret: string }[]).map((client) => [client.id, sha256(client.secret)]),
);

function refuse(response: http.ServerResponse, status: number, error: string): void {
  const body = JSON.stringify({ error });
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
  response.end(body);
}

const server = http.createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    const form = new URLSearchParams(Buffer.concat(chunks).toString("latin1"));
    if (request.url !== "/oauth/token" || form.get("grant_type") !== "client_credentials") return refuse(response, 400, "invalid_request");
    const basic = /^Basic (.+)$/.exec(request.headers.authorization ?? "");
    const decoded = basic ? Buffer.from(basic[1]!, "base64").toString("utf8") : "";
    const colon = decoded.indexOf(":");
    const expected = clients.get(decoded.slice(0, colon));
    if (colon < 0 || !expected || !timingSafeEqual(sha256(decoded.slice(colon + 1)), expected)) return refuse(response, 401, "invalid_client");
    const clientId = decoded.slice(0, colon);
    const now = Math.floor(Date.now() / 1000);
    const scope = form.get("scope") ?? "";
    const payload = { iss: issuer, sub: clientId, aud: issuer, exp: now + 3600, iat: now, nbf: now, jti: randomBytes(16).toString("base64url"), client_id: clientId, scope };
    const input = `${header}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}`;
    sign("sha256", Buffer.from(input, "latin1"), keyInput, (error, signature) => {
      if (error) return refuse(response, 500, "server_error");
      const body = JSON.stringify({ access_token: `${input}.${signature.toString("base64url")}`, token_type: "Bearer", expires_in: 3600, scope });
      response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body), "cache-control": "no-store", pragma: "no-cache" });
      response.end(body);
    });
  });
});
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ ready: true, port: (server.address() as AddressInfo).port })}\n`);
});
process.once("SIGTERM", () => server.close(() => process.exit(0)));
