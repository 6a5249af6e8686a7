/**
 * tessera.v1.IntrospectionService: the RPC face of RFC 7662 introspection, AuthenticateToken and
 * RFC 7009 revocation. The caller authenticates with `authorization` metadata: Bearer (a token
 * carrying tessera:introspect or tessera:revoke) or Basic client credentials.
 */
import { presentedThumbprint } from "../../oauth/mtls/certificate-binding-check.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { TesseraError } from "../../errors.js";
import type { Caller, ResourceRequestProof, TokenIntrospection } from "../../oauth/token-introspection.js";
import { confirmationOf } from "../../oauth/confirmation.js";
import { ActorSchema, IntrospectionService } from "../../gen/tessera/v1/introspection_service_pb.js";
import type { Actor } from "../../oauth/delegation-chain.js";
import { basicClientCredentials, parseAuthorizationHeader } from "../authorization-header.js";
import { originKey } from "./context.js";

const seconds = (value: number) => timestampFromDate(new Date(value * 1000));

/** RFC 8693 §4.1 `act` as the Actor message, nesting as the claim does. */
function actorMessage(actor: Actor | undefined): MessageInitShape<typeof ActorSchema> | undefined {
  return actor && { subject: actor.subject, act: actorMessage(actor.actor) };
}

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

/** The resource request's DPoP proof, method and URL, when the caller passed a proof. */
function resourceProof(request: { dpopProof: string; httpMethod: string; httpUrl: string }): ResourceRequestProof | undefined {
  if (request.dpopProof === "") return undefined;
  if (request.httpMethod === "" || request.httpUrl === "") {
    throw new TesseraError("invalid_request", "http_method and http_url are required with dpop_proof");
  }
  return { dpop: request.dpopProof, method: request.httpMethod, url: request.httpUrl };
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
      const found = await introspection.introspect(caller, request.token);
      if (!found) return { active: false };
      if (found.tokenType === "refresh_token") {
        const { token } = found;
        return {
          active: true,
          scopes: [...token.scopes],
          clientId: token.clientId,
          tokenType: "refresh_token",
          expireTime: seconds(Math.floor(token.expireTime.getTime() / 1000)),
          issueTime: seconds(Math.floor(token.issueTime.getTime() / 1000)),
          audiences: [...token.audiences],
          issuer: options.issuer,
        };
      }
      const { token } = found;
      const cnf = confirmationOf(token);
      return {
        active: true,
        scopes: [...token.scopes],
        clientId: token.clientId,
        // RFC 9449 §6.2: a DPoP-bound token's type is DPoP.
        tokenType: cnf && typeof cnf.jkt === "string" ? "DPoP" : "Bearer",
        cnf,
        expireTime: seconds(token.expiresAt),
        issueTime: seconds(token.issuedAt),
        notBeforeTime: seconds(token.notBefore),
        subject: typeof token.claims.sub === "string" ? token.claims.sub : token.clientId,
        audiences: [...token.audiences],
        issuer: options.issuer,
        tokenId: token.jti,
        act: actorMessage(token.actor),
      };
    },
    async authenticateToken(request, context) {
      const caller = await callerOf(introspection, context);
      const { token, customClaims, trustedMetadata } = await introspection.authenticate(caller, request.token, {
        requiredScopes: request.requiredScopes,
        requiredAudience: request.requiredAudience || undefined,
        proof: resourceProof(request),
        clientCertificateThumbprint: presentedThumbprint(request.clientCertificateThumbprint, "client_certificate_thumbprint"),
      });
      return {
        clientId: token.clientId,
        scopes: [...token.scopes],
        audiences: [...token.audiences],
        customClaims,
        trustedMetadata,
        expireTime: seconds(token.expiresAt),
        tokenId: token.jti,
        act: actorMessage(token.actor),
        subject: typeof token.claims.sub === "string" ? token.claims.sub : token.clientId,
        cnf: confirmationOf(token),
      };
    },
    async revokeToken(request, context) {
      const caller = await callerOf(introspection, context);
      await introspection.revoke(caller, request.token, options.now());
      return {};
    },
  };
}
