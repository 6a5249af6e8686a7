/**
 * Cross-cutting RPC concerns, each one interceptor: request ids and logging with error
 * translation (outermost), and bearer-token authorization for the admin service.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { DenialAudit } from "../../audit/denial-throttle.js";
import { TesseraError } from "../../errors.js";
import type { Logger } from "../../log/logger.js";
import type { Metrics } from "../../observability/metrics.js";
import { inServerSpan, type Attributes } from "../../observability/tracing.js";
import type { RequestOrigin } from "../../oauth/abuse-limits.js";
import type { AccessTokenVerifier } from "../../oauth/access-token-verifier.js";
import { identifyOwnApiCaller } from "../../oauth/own-api-caller.js";
import { AUTHENTICATION_REALM, parseAuthorizationHeader } from "../authorization-header.js";
import { REQUEST_ID_HEADER, requestIdFrom } from "../request-id.js";
import { callerTokenKey, originKey, requestIdKey } from "./context.js";
import { toConnectError } from "./errors.js";

const UNAUTHENTICATED_CHALLENGE = `Basic realm="${AUTHENTICATION_REALM}", charset="UTF-8", Bearer realm="${AUTHENTICATION_REALM}"`;

/** A method's name for logs and metrics and its span attributes, made once per method. */
interface MethodLabels {
  readonly rpc: string;
  readonly attributes: Attributes;
}

export function loggingInterceptor(log: Logger, metrics: Metrics): Interceptor {
  const labels = new WeakMap<DescMethod, MethodLabels>();
  const labelsOf = (method: DescMethod): MethodLabels => {
    let found = labels.get(method);
    if (!found) {
      const service = method.parent.typeName;
      found = { rpc: `${service}/${method.name}`, attributes: { "rpc.system": "grpc", "rpc.service": service, "rpc.method": method.name } };
      labels.set(method, found);
    }
    return found;
  };
  return (next) => async (request) => {
    const started = process.hrtime.bigint();
    const requestId = requestIdFrom(request.header.get(REQUEST_ID_HEADER));
    request.contextValues.set(requestIdKey, requestId);
    const { rpc, attributes } = labelsOf(request.method);
    try {
      const response = await inServerSpan(rpc, attributes, () => next(request));
      response.header.set(REQUEST_ID_HEADER, requestId);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      metrics.rpc(rpc, "ok", ms / 1000);
      log.info({ requestId, rpc, code: "ok", ms }, "rpc");
      return response;
    } catch (error) {
      // A child logger only on the error path: creating one per call costs the hot path.
      const connectError = toConnectError(error, log.child({ requestId }));
      connectError.metadata.set(REQUEST_ID_HEADER, requestId);
      // Over Connect, UNAUTHENTICATED is HTTP 401, which RFC 9110 §15.5.2 requires to carry a
      // challenge; the RPC services accept client credentials or a Bearer token.
      if (connectError.code === Code.Unauthenticated && !connectError.metadata.has("www-authenticate")) {
        connectError.metadata.set("www-authenticate", UNAUTHENTICATED_CHALLENGE);
      }
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const code = Code[connectError.code];
      metrics.rpc(rpc, code, ms / 1000);
      if (connectError.code === Code.Unauthenticated || connectError.code === Code.PermissionDenied || connectError.code === Code.ResourceExhausted) {
        metrics.authFailure(error instanceof TesseraError ? error.code : code);
      }
      log.info({ requestId, rpc, code, ms }, "rpc");
      throw connectError;
    }
  };
}

/** What an interceptor is handed: the next step of the chain, and the call. */
type Next = Parameters<Interceptor>[0];
type Call = Parameters<Next>[0];

export interface ScopeRule {
  /** The call is allowed if the token carries any one of these scopes. */
  readonly anyOf: readonly string[];
}

/**
 * Requires `Authorization: Bearer <Tessera access token>` for the methods of one service, with
 * the scopes each method names. The token must be active now (its client too) and issued for
 * Tessera itself (aud = issuer). Refusals are audited, throttled per source (DenialAudit), and
 * count against the caller's per-address budget.
 */
export function bearerAuthorizationInterceptor(options: {
  serviceTypeName: string;
  rules: ReadonlyMap<string, ScopeRule>;
  verifier: AccessTokenVerifier;
  audience: string;
  denials: DenialAudit;
  /** Takes one refusal from the address's budget; throws too_many_requests once it is spent. */
  limitRefusals?: (origin: RequestOrigin) => void;
  log: Logger;
}): Interceptor {
  // Calls to other services pass straight through, without an async frame of their own.
  return (next) => (request) => (request.service.typeName === options.serviceTypeName ? authorized(next, request) : next(request));
  async function authorized(next: Next, request: Call) {
    const rule = options.rules.get(request.method.name);
    const requestId = request.contextValues.get(requestIdKey);
    const deny = async (code: Code, reason: string, actor = ""): Promise<never> => {
      const origin = request.contextValues.get(originKey);
      await options.denials
        .record({ source: origin.ip, actor, reason, rpc: request.method.name, requestId })
        .catch((error: unknown) => options.log.error({ err: error }, "could not audit a refused admin call"));
      options.limitRefusals?.(origin);
      throw new ConnectError(reason, code);
    };
    const bearerToken = bearerTokenOf(request.header.get("authorization"));
    if (bearerToken === undefined) return deny(Code.Unauthenticated, "a bearer access token is required");
    const caller = await identifyOwnApiCaller({
      token: bearerToken,
      permittedScopes: rule?.anyOf ?? [],
      verifier: options.verifier,
      issuer: options.audience,
    });
    if (!caller.allowed) {
      const actor = caller.token?.clientId;
      switch (caller.refusal) {
        case "not_active":
          return deny(Code.Unauthenticated, "the access token is not active");
        case "wrong_audience":
          return deny(Code.Unauthenticated, "the access token is not for this service", actor);
        case "insufficient_scope":
          return deny(Code.PermissionDenied, `requires scope ${rule?.anyOf.join(" or ") ?? "(none allowed)"}`, actor);
      }
    }
    request.contextValues.set(callerTokenKey, caller.token);
    return next(request);
  }
}

/** The Bearer token of the header; undefined when it is absent, malformed or of another scheme. */
function bearerTokenOf(header: string | null): string | undefined {
  try {
    const authorization = parseAuthorizationHeader(header);
    return authorization?.scheme === "bearer" ? authorization.token : undefined;
  } catch {
    return undefined;
  }
}
