/**
 * tessera.v1.IntrospectionService. The contract is complete; the verification issue fills in
 * the handlers.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { unimplemented } from "../../errors.js";
import { IntrospectionService } from "../../gen/tessera/v1/introspection_service_pb.js";

export function introspectionServiceImpl(): ServiceImpl<typeof IntrospectionService> {
  return {
    introspectToken: () => unimplemented("IntrospectToken"),
    authenticateToken: () => unimplemented("AuthenticateToken"),
    revokeToken: () => unimplemented("RevokeToken"),
  };
}
