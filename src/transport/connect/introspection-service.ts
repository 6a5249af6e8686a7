/**
 * tessera.v1.IntrospectionService. The contract is complete; the verification issue fills in
 * the handlers.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { TesseraError } from "../../errors.js";
import { IntrospectionService } from "../../gen/tessera/v1/introspection_service_pb.js";

function notYet(rpc: string): never {
  throw new TesseraError("unimplemented", `${rpc} is not available in this version of Tessera`);
}

export function introspectionServiceImpl(): ServiceImpl<typeof IntrospectionService> {
  return {
    introspectToken: () => notYet("IntrospectToken"),
    authenticateToken: () => notYet("AuthenticateToken"),
    revokeToken: () => notYet("RevokeToken"),
  };
}
