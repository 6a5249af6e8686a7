/**
 * tessera.v1.IntrospectionService: the RPC face of RFC 7662 introspection, AuthenticateToken and
 * RFC 7009 revocation. The caller authenticates with `authorization` metadata: Bearer (a token
 * carrying tessera:introspect) or Basic client credentials.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { TesseraError } from "../../errors.js";
import type { Caller, TokenIntrospection } from "../../oauth/token-introspection.js";
import { IntrospectionService } from "../../gen/tessera/v1/introspection_service_pb.js";
import { basicClientCredentials, parseAuthorizationHeader } from "../authorization-header.js";
import { originKey } from "./context.js";

const seconds = (value: number) => timestampFromDate(new Date(value * 1000));

async function callerOf(introspection: TokenIntrospection, context: HandlerContext): Promise<Caller> {
  const header = parseAuthorizationHeader(context.requestHeader.get("authorization"));
  if (!header) throw new TesseraError("unauthenticated", "authorization metadata is required (Bearer token or Basic client credentials)");
  return introspection.authenticateCaller(
    header.scheme === "bearer"
      ? { bearerToken: header.token }
      : { client: basicClientCredentials(header) },
    context.values.get(originKey),
  );
}

export function introspectionServiceImpl(options: {
  introspection: TokenIntrospection;
  issuer: string;
  now: () => Date;
}): ServiceImpl<typeof IntrospectionService> {
  const { introspection } = options;
  return {
    async introspectToken(request, context) {
      const caller = await callerOf(introspection, context);
      const active = await introspection.introspect(caller, request.token);
      if (!active) return { active: false };
      return {
        active: true,
        scopes: [...active.scopes],
        clientId: active.clientId,
        tokenType: "Bearer",
        expireTime: seconds(active.expiresAt),
        issueTime: seconds(active.issuedAt),
        notBeforeTime: seconds(active.notBefore),
        subject: typeof active.claims.sub === "string" ? active.claims.sub : active.clientId,
        audiences: [...active.audiences],
        issuer: options.issuer,
        tokenId: active.jti,
      };
    },
    async authenticateToken(request, context) {
      const caller = await callerOf(introspection, context);
      const { token, customClaims, trustedMetadata } = await introspection.authenticate(caller, request.token, {
        requiredScopes: request.requiredScopes,
        requiredAudience: request.requiredAudience || undefined,
      });
      return {
        clientId: token.clientId,
        scopes: [...token.scopes],
        audiences: [...token.audiences],
        customClaims,
        trustedMetadata,
        expireTime: seconds(token.expiresAt),
        tokenId: token.jti,
      };
    },
    async revokeToken(request, context) {
      const caller = await callerOf(introspection, context);
      await introspection.revoke(caller, request.token, options.now());
      return {};
    },
  };
}
