/**
 * tessera.v1.ClientAdminService. Authorization happens before these handlers run (the bearer
 * interceptor); each handler converts, calls the client admin use case, converts back.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { ClientAdmin } from "../../clients/client-admin.js";
import { ADMIN_SCOPE, CLIENTS_READ_SCOPE } from "../../clients/tessera-scopes.js";
import { invalidArgument } from "../../clients/client-validation.js";
import type { SigningAlgorithm } from "../../keys/algorithms.js";
import type { KeyManager } from "../../keys/key-manager.js";
import type { KeyRing } from "../../keys/key-ring.js";
import { ClientAdminService } from "../../gen/tessera/v1/client_admin_service_pb.js";
import { actorOf } from "./context.js";
import {
  auditEventToProto,
  clientChanges,
  clientToProto,
  createClientInput,
  importClientInput,
  algorithmFromProto,
  signingKeyToProto,
  storedKeyToProto,
  statusFromProto,
} from "./converters.js";
import type { ScopeRule } from "./interceptors.js";

const ADMIN: ScopeRule = { anyOf: [ADMIN_SCOPE] };
const READ: ScopeRule = { anyOf: [ADMIN_SCOPE, CLIENTS_READ_SCOPE] };

/** The scope each RPC needs, as the proto comments document. A method missing here is refused. */
export const CLIENT_ADMIN_SCOPES: ReadonlyMap<string, ScopeRule> = new Map(
  ClientAdminService.methods.map((method) => [method.name, method.name === "GetClient" || method.name === "ListClients" ? READ : ADMIN]),
);

export function clientAdminServiceImpl(options: {
  admin: ClientAdmin;
  keyRing: KeyRing;
  keyManager: KeyManager;
  defaultAlgorithm: SigningAlgorithm;
  now: () => Date;
}): ServiceImpl<typeof ClientAdminService> {
  const { admin } = options;
  return {
    async createClient(request, context) {
      const { record, secret } = await admin.createClient(createClientInput(request), actorOf(context.values));
      return { client: clientToProto(record), clientSecret: secret };
    },
    async importClient(request, context) {
      const record = await admin.importClient(
        { ...importClientInput(request.client), clientSecret: request.clientSecret },
        actorOf(context.values),
      );
      return { client: clientToProto(record) };
    },
    async getClient(request) {
      return { client: clientToProto(await admin.getClient(request.clientId)) };
    },
    async listClients(request) {
      const page = await admin.listClients({
        pageSize: request.pageSize,
        pageToken: request.pageToken,
        status: statusFromProto(request.status),
        namePrefix: request.namePrefix,
      });
      return { clients: page.records.map(clientToProto), nextPageToken: page.nextPageToken, totalSize: page.totalSize };
    },
    async updateClient(request, context) {
      const record = await admin.updateClient(
        {
          clientId: request.client?.clientId ?? "",
          etag: request.client?.etag ?? "",
          changes: clientChanges(request.client, request.updateMask?.paths ?? []),
        },
        actorOf(context.values),
      );
      return { client: clientToProto(record) };
    },
    async deactivateClient(request, context) {
      const record = await admin.setStatus({ clientId: request.clientId, etag: request.etag, status: "inactive" }, actorOf(context.values));
      return { client: clientToProto(record) };
    },
    async reactivateClient(request, context) {
      const record = await admin.setStatus({ clientId: request.clientId, etag: request.etag, status: "active" }, actorOf(context.values));
      return { client: clientToProto(record) };
    },
    async deleteClient(request, context) {
      await admin.deleteClient({ clientId: request.clientId, etag: request.etag }, actorOf(context.values));
      return {};
    },
    async startSecretRotation(request, context) {
      const { record, secret } = await admin.startSecretRotation(request.clientId, actorOf(context.values));
      return { client: clientToProto(record), clientSecret: secret };
    },
    async completeSecretRotation(request, context) {
      return { client: clientToProto(await admin.finishSecretRotation(request.clientId, "complete", actorOf(context.values))) };
    },
    async cancelSecretRotation(request, context) {
      return { client: clientToProto(await admin.finishSecretRotation(request.clientId, "cancel", actorOf(context.values))) };
    },
    async listSigningKeys() {
      return { keys: options.keyRing.keys().map((key) => signingKeyToProto(key)) };
    },
    async rotateSigningKey(request, context) {
      const alg = algorithmFromProto(request.algorithm, "algorithm") ?? options.defaultAlgorithm;
      const stored = await options.keyManager.rotate(alg, options.now(), actorOf(context.values));
      return { key: storedKeyToProto(stored) };
    },
    async revokeSigningKey(request, context) {
      if (!request.kid) throw invalidArgument("kid", "is required");
      const stored = await options.keyManager.revoke(request.kid, options.now(), actorOf(context.values));
      return { key: storedKeyToProto(stored) };
    },
    async listAuditEvents(request) {
      const page = await admin.listAuditEvents({ pageSize: request.pageSize, pageToken: request.pageToken, clientId: request.clientId });
      return { events: page.events.map(auditEventToProto), nextPageToken: page.nextPageToken };
    },
  };
}
