/**
 * The one way Tessera fetches JSON from elsewhere (OIDC discovery, issuer JWKS, SPIFFE bundles,
 * clients' jwks_uri). Those URLs are configured by operators but served by parties we do not
 * control, so an answer must not be able to hold a request open, grow our memory, or send us to
 * another host: HTTPS only (plain HTTP only when allowed for development clusters), redirects
 * followed by hand within the same origin and a few hops, a connect deadline and a total
 * deadline, a body cap enforced while reading, and only a 2xx JSON object is an answer.
 *
 * TLS trusts what Node trusts (its bundled roots plus NODE_EXTRA_CA_CERTS), so the private CA
 * of a development cluster is added the standard way, for every outbound fetch at once.
 */
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import type { JsonObject } from "../clients/client.js";

export interface OutboundFetchPolicy {
  /** Plain http:// URLs are refused unless this is true. */
  readonly allowHttp: boolean;
  readonly connectTimeoutMs: number;
  readonly totalTimeoutMs: number;
  readonly maxResponseBytes: number;
  readonly maxRedirects: number;
}

export const DEFAULT_OUTBOUND_FETCH_POLICY: OutboundFetchPolicy = {
  allowHttp: false,
  connectTimeoutMs: 5_000,
  totalTimeoutMs: 10_000,
  maxResponseBytes: 256 * 1024,
  maxRedirects: 3,
};

/** Why a fetch was refused; `reason` is one of a fixed set (a metric label). */
export type OutboundFetchFailure =
  | "insecure_url"
  | "invalid_url"
  | "redirect_refused"
  | "too_many_redirects"
  | "timeout"
  | "too_large"
  | "http_status"
  | "not_json"
  | "unreachable";

export class OutboundFetchError extends Error {
  override readonly name = "OutboundFetchError";
  constructor(
    readonly reason: OutboundFetchFailure,
    message: string,
  ) {
    super(message);
  }
}

/** A fetched JSON object and the caching its server asked for. */
export interface FetchedJson {
  readonly body: JsonObject;
  /** Cache-Control max-age (or s-maxage), in seconds; undefined when absent; 0 for no-store/no-cache. */
  readonly maxAgeSeconds: number | undefined;
  /** The URL that answered, after same-origin redirects. */
  readonly url: string;
}

export type JsonFetcher = (url: string) => Promise<FetchedJson>;

/** A fetcher bound to one policy. */
export function outboundJsonFetcher(policy: Partial<OutboundFetchPolicy> = {}): JsonFetcher {
  const full: OutboundFetchPolicy = { ...DEFAULT_OUTBOUND_FETCH_POLICY, ...policy };
  return (url) => fetchJson(url, full);
}

async function fetchJson(url: string, policy: OutboundFetchPolicy): Promise<FetchedJson> {
  const first = checkedUrl(url, policy);
  const deadline = AbortSignal.timeout(policy.totalTimeoutMs);
  let current = first;
  for (let hop = 0; ; hop++) {
    const answer = await requestOnce(current, policy, deadline);
    if (answer.kind === "redirect") {
      if (hop >= policy.maxRedirects) throw new OutboundFetchError("too_many_redirects", `more than ${policy.maxRedirects} redirects`);
      let next: URL;
      try {
        next = new URL(answer.location, current);
      } catch {
        throw new OutboundFetchError("redirect_refused", "redirected to an invalid URL");
      }
      // Another origin could be anything the first server points us at (an internal address,
      // a key set of its choosing): only moves within the configured origin are followed.
      if (next.origin !== first.origin) throw new OutboundFetchError("redirect_refused", "redirected to another origin");
      current = next;
      continue;
    }
    return { body: answer.body, maxAgeSeconds: answer.maxAgeSeconds, url: current.toString() };
  }
}

function checkedUrl(url: string, policy: OutboundFetchPolicy): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new OutboundFetchError("invalid_url", "not an absolute URL");
  }
  if (parsed.username !== "" || parsed.password !== "") throw new OutboundFetchError("invalid_url", "URL must not carry credentials");
  if (parsed.protocol === "https:") return parsed;
  if (parsed.protocol === "http:") {
    if (policy.allowHttp) return parsed;
    throw new OutboundFetchError("insecure_url", "plain http is refused (https required)");
  }
  throw new OutboundFetchError("invalid_url", "URL must be https");
}

type Answer =
  | { readonly kind: "redirect"; readonly location: string }
  | { readonly kind: "json"; readonly body: JsonObject; readonly maxAgeSeconds: number | undefined };

function requestOnce(url: URL, policy: OutboundFetchPolicy, deadline: AbortSignal): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    if (deadline.aborted) {
      reject(new OutboundFetchError("timeout", "took too long"));
      return;
    }
    let settled = false;
    const fail = (error: OutboundFetchError) => {
      if (settled) return;
      settled = true;
      cleanup();
      destroy();
      reject(error);
    };
    const succeed = (answer: Answer) => {
      if (settled) return;
      settled = true;
      cleanup();
      resolve(answer);
      // One request per connection: nothing is pooled past its deadline.
      destroy();
    };
    const onDeadline = () => fail(new OutboundFetchError("timeout", "took too long"));
    const secure = url.protocol === "https:";
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const port = Number(url.port || (secure ? 443 : 80));
    let socket: net.Socket | undefined;
    // We open the socket ourselves, so the connect deadline is ours and plain HTTP (development
    // clusters only, see checkedUrl) goes through the same client. TLS verifies the server's name
    // against the URL's host with Node's trusted roots (and NODE_EXTRA_CA_CERTS).
    const request = https.request({
      host,
      port,
      path: `${url.pathname}${url.search}`,
      method: "GET",
      headers: { host: url.host, accept: "application/json, application/jwk-set+json", "accept-encoding": "identity", "user-agent": "tessera" },
      createConnection: () => {
        socket = secure
          ? tls.connect({ host, port, ...(net.isIP(host) === 0 ? { servername: host } : {}), ALPNProtocols: ["http/1.1"] })
          : net.connect({ host, port });
        socket.once(secure ? "secureConnect" : "connect", () => clearTimeout(connectTimer));
        return socket;
      },
    });
    const connectTimer = setTimeout(() => fail(new OutboundFetchError("timeout", "could not connect in time")), policy.connectTimeoutMs);
    const cleanup = () => {
      clearTimeout(connectTimer);
      deadline.removeEventListener("abort", onDeadline);
    };
    const destroy = () => {
      request.destroy();
      socket?.destroy();
    };
    deadline.addEventListener("abort", onDeadline, { once: true });
    request.on("error", (error: NodeJS.ErrnoException) => {
      fail(new OutboundFetchError("unreachable", `could not fetch (${error.code ?? "error"})`));
    });
    request.on("response", (response) => {
      const status = response.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(status)) {
        const location = response.headers.location;
        response.resume();
        if (!location) fail(new OutboundFetchError("http_status", `answered ${status} without a Location`));
        else succeed({ kind: "redirect", location });
        return;
      }
      if (status < 200 || status > 299) {
        response.resume();
        fail(new OutboundFetchError("http_status", `answered HTTP ${status}`));
        return;
      }
      const declared = Number(response.headers["content-length"]);
      if (Number.isFinite(declared) && declared > policy.maxResponseBytes) {
        fail(new OutboundFetchError("too_large", `answer larger than ${policy.maxResponseBytes} bytes`));
        return;
      }
      const chunks: Buffer[] = [];
      let received = 0;
      response.on("data", (chunk: Buffer) => {
        received += chunk.length;
        // Stop reading the moment the cap is passed: a server that streams forever costs us
        // at most the cap.
        if (received > policy.maxResponseBytes) fail(new OutboundFetchError("too_large", `answer larger than ${policy.maxResponseBytes} bytes`));
        else chunks.push(chunk);
      });
      response.on("error", () => fail(new OutboundFetchError("unreachable", "the answer was cut off")));
      response.on("end", () => {
        if (settled) return;
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch {
          fail(new OutboundFetchError("not_json", "answer is not JSON"));
          return;
        }
        if (typeof body !== "object" || body === null || Array.isArray(body)) {
          fail(new OutboundFetchError("not_json", "answer is not a JSON object"));
          return;
        }
        succeed({ kind: "json", body: body as JsonObject, maxAgeSeconds: cacheMaxAge(response.headers["cache-control"]) });
      });
    });
    request.end();
  });
}

/** RFC 9111 §5.2.2: no-store and no-cache mean "do not reuse without asking"; s-maxage wins over max-age for shared caches. */
export function cacheMaxAge(header: string | undefined): number | undefined {
  if (!header) return undefined;
  const directives = new Map<string, string>();
  for (const part of header.split(",")) {
    const [name = "", value = ""] = part.trim().split("=", 2);
    directives.set(name.trim().toLowerCase(), value.trim().replace(/^"|"$/g, ""));
  }
  if (directives.has("no-store") || directives.has("no-cache")) return 0;
  for (const name of ["s-maxage", "max-age"]) {
    const value = directives.get(name);
    if (value !== undefined && /^\d{1,10}$/.test(value)) return Number(value);
  }
  return undefined;
}
