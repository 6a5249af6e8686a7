/**
 * tessera.v1.ClientAdminService. Authorization happens before these handlers run (the bearer
 * interceptor); each handler converts, calls the client admin use case, converts back.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { ADMIN_SCOPE, CLIENTS_READ_SCOPE, notFound, type ClientAdmin } from "../../clients/client-admin.js";
import type { ClientRegistry } from "../../clients/client-registry.js";
import { checkClientId } from "../../clients/client-validation.js";
import { TesseraError } from "../../errors.js";
import type { KeyRing } from "../../keys/key-ring.js";
import { ClientAdminService } from "../../gen/tessera/v1/client_admin_service_pb.js";
import { actorOf } from "./context.js";
import { clientToProto, createClientInput, signingKeyToProto } from "./converters.js";
import type { ScopeRule } from "./interceptors.js";

const ADMIN: ScopeRule = { anyOf: [ADMIN_SCOPE] };
const READ: ScopeRule = { anyOf: [ADMIN_SCOPE, CLIENTS_READ_SCOPE] };

/** The scope each RPC needs, as the proto comments document. A method missing here is refused. */
export const CLIENT_ADMIN_SCOPES: ReadonlyMap<string, ScopeRule> = new Map(
  ClientAdminService.methods.map((method) => [method.name, method.name === "GetClient" || method.name === "ListClients" ? READ : ADMIN]),
);

function notYet(rpc: string): never {
  throw new TesseraError("unimplemented", `${rpc} is not available in this version of Tessera`);
}

export function clientAdminServiceImpl(options: {
  admin: ClientAdmin;
  registry: ClientRegistry;
  keyRing: KeyRing;
}): ServiceImpl<typeof ClientAdminService> {
  return {
    async createClient(request, context) {
      const { record, secret } = await options.admin.createClient(createClientInput(request), actorOf(context.values));
      return { client: clientToProto(record), clientSecret: secret };
    },
    async getClient(request) {
      checkClientId(request.clientId);
      const record = await options.registry.find(request.clientId);
      if (!record) throw notFound(request.clientId);
      return { client: clientToProto(record) };
    },
    async listSigningKeys() {
      return { keys: options.keyRing.keys().map(signingKeyToProto) };
    },
    importClient: () => notYet("ImportClient"),
    listClients: () => notYet("ListClients"),
    updateClient: () => notYet("UpdateClient"),
    deactivateClient: () => notYet("DeactivateClient"),
    reactivateClient: () => notYet("ReactivateClient"),
    deleteClient: () => notYet("DeleteClient"),
    startSecretRotation: () => notYet("StartSecretRotation"),
    completeSecretRotation: () => notYet("CompleteSecretRotation"),
    cancelSecretRotation: () => notYet("CancelSecretRotation"),
    rotateSigningKey: () => notYet("RotateSigningKey"),
    revokeSigningKey: () => notYet("RevokeSigningKey"),
    listAuditEvents: () => notYet("ListAuditEvents"),
  };
}
