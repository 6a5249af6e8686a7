/**
 * tessera.v1.FederationService. Authorization happens before these handlers run (the bearer
 * interceptor, as for ClientAdminService); each handler converts, calls the federation admin use
 * case, converts back.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { ADMIN_SCOPE } from "../../clients/tessera-scopes.js";
import type { FederationAdmin } from "../../federation/federation-admin.js";
import { FederationService } from "../../gen/tessera/v1/federation_service_pb.js";
import { actorOf } from "./context.js";
import {
  delegationPolicyChanges,
  delegationPolicyInput,
  delegationPolicyToProto,
  federationPolicyChanges,
  federationPolicyInput,
  federationPolicyToProto,
  trustedIssuerChanges,
  trustedIssuerInput,
  trustedIssuerToProto,
} from "./federation-converters.js";
import type { ScopeRule } from "./interceptors.js";

const ADMIN: ScopeRule = { anyOf: [ADMIN_SCOPE] };

/** Every RPC needs `tessera:admin`, as the proto comments document. A method missing here is refused. */
export const FEDERATION_SCOPES: ReadonlyMap<string, ScopeRule> = new Map(FederationService.methods.map((method) => [method.name, ADMIN]));

export function federationServiceImpl(options: { admin: FederationAdmin }): ServiceImpl<typeof FederationService> {
  const { admin } = options;
  return {
    async createTrustedIssuer(request, context) {
      return { trustedIssuer: trustedIssuerToProto(await admin.createTrustedIssuer(trustedIssuerInput(request.trustedIssuer), actorOf(context.values))) };
    },
    async getTrustedIssuer(request) {
      return { trustedIssuer: trustedIssuerToProto(await admin.getTrustedIssuer(request.issuer)) };
    },
    async listTrustedIssuers(request) {
      const page = await admin.listTrustedIssuers({ pageSize: request.pageSize, pageToken: request.pageToken });
      return { trustedIssuers: page.items.map(trustedIssuerToProto), nextPageToken: page.nextPageToken };
    },
    async updateTrustedIssuer(request, context) {
      const updated = await admin.updateTrustedIssuer(trustedIssuerChanges(request.trustedIssuer, request.updateMask), actorOf(context.values));
      return { trustedIssuer: trustedIssuerToProto(updated) };
    },
    async deleteTrustedIssuer(request, context) {
      await admin.deleteTrustedIssuer({ issuer: request.issuer, etag: request.etag }, actorOf(context.values));
      return {};
    },
    async createFederationPolicy(request, context) {
      const created = await admin.createFederationPolicy({ ...federationPolicyInput(request.federationPolicy), id: request.federationPolicyId }, actorOf(context.values));
      return { federationPolicy: federationPolicyToProto(created) };
    },
    async getFederationPolicy(request) {
      return { federationPolicy: federationPolicyToProto(await admin.getFederationPolicy(request.federationPolicyId)) };
    },
    async listFederationPolicies(request) {
      const page = await admin.listFederationPolicies({
        pageSize: request.pageSize,
        pageToken: request.pageToken,
        issuer: request.issuer,
        clientId: request.clientId,
      });
      return { federationPolicies: page.items.map(federationPolicyToProto), nextPageToken: page.nextPageToken };
    },
    async updateFederationPolicy(request, context) {
      const updated = await admin.updateFederationPolicy(federationPolicyChanges(request.federationPolicy, request.updateMask), actorOf(context.values));
      return { federationPolicy: federationPolicyToProto(updated) };
    },
    async deleteFederationPolicy(request, context) {
      await admin.deleteFederationPolicy({ id: request.federationPolicyId, etag: request.etag }, actorOf(context.values));
      return {};
    },
    async createDelegationPolicy(request, context) {
      const created = await admin.createDelegationPolicy({ ...delegationPolicyInput(request.delegationPolicy), id: request.delegationPolicyId }, actorOf(context.values));
      return { delegationPolicy: delegationPolicyToProto(created) };
    },
    async getDelegationPolicy(request) {
      return { delegationPolicy: delegationPolicyToProto(await admin.getDelegationPolicy(request.delegationPolicyId)) };
    },
    async listDelegationPolicies(request) {
      const page = await admin.listDelegationPolicies({ pageSize: request.pageSize, pageToken: request.pageToken, clientId: request.clientId });
      return { delegationPolicies: page.items.map(delegationPolicyToProto), nextPageToken: page.nextPageToken };
    },
    async updateDelegationPolicy(request, context) {
      const updated = await admin.updateDelegationPolicy(delegationPolicyChanges(request.delegationPolicy, request.updateMask), actorOf(context.values));
      return { delegationPolicy: delegationPolicyToProto(updated) };
    },
    async deleteDelegationPolicy(request, context) {
      await admin.deleteDelegationPolicy({ id: request.delegationPolicyId, etag: request.etag }, actorOf(context.values));
      return {};
    },
  };
}
