/**
 * The resource kinds a configuration document may describe, each tied to its protobuf message
 * and to the admin RPCs that list, create, update and prune it. A new kind plugs in here: its
 * message, its id field, its output-only fields, what it names, and its calls.
 */
import { fromJson, toJson, type DescMessage, type JsonValue, type MessageShape } from "@bufbuild/protobuf";
import { CreateClientRequestSchema } from "../../gen/tessera/v1/client_admin_service_pb.js";
import { ClientSchema, ClientStatus } from "../../gen/tessera/v1/client_pb.js";
import { DelegationPolicySchema, FederationPolicySchema, TrustedIssuerSchema } from "../../gen/tessera/v1/federation_pb.js";
import type { AdminApi, FederationApi } from "../connection.js";
import type { PlanJson, PruneKind, ResourceRef } from "./config-plan.js";
import type { SpecShape } from "./config-spec.js";

export interface ConfigApis {
  readonly admin: AdminApi;
  readonly federation: FederationApi;
}

/** The annotation (AIP-128) that marks what `tessera apply` manages; `--prune` touches nothing else. */
export const MANAGED_BY_KEY = "tessera.dev/managed-by";
export const MANAGED_BY_VALUE = "tessera-apply";

export interface ResourceKind<Desc extends DescMessage = DescMessage> {
  readonly kind: string;
  readonly shape: SpecShape<Desc>;
  /** What `--prune` does to a resource of this kind that the files no longer name. */
  readonly prune: PruneKind;
  /**
   * Fields (JSON names) a document may leave out to keep whatever the server holds, because the
   * server fills them in with defaults of its own when they are unset.
   */
  readonly keptWhenAbsent: readonly string[];
  /** Fields the server derives from others when unset; the wanted value follows the same rule. */
  derive?(fields: Record<string, PlanJson>, present: ReadonlySet<string>): void;
  references(fields: Readonly<Record<string, PlanJson>>): ResourceRef[];
  idOf(message: MessageShape<Desc>): string;
  etagOf(message: MessageShape<Desc>): string;
  /** Whether a prune would change nothing (a client already inactive). */
  isPruned(message: MessageShape<Desc>): boolean;
  list(apis: ConfigApis): Promise<MessageShape<Desc>[]>;
  /** Creates the resource; a client's generated secret is returned, once. */
  create(apis: ConfigApis, input: { id: string; message: MessageShape<Desc>; importedSecret: string | undefined }): Promise<{ generatedSecret?: string }>;
  /** Updates the fields named (proto names) if the etag is still current, else ABORTED. */
  update(apis: ConfigApis, input: { id: string; etag: string; message: MessageShape<Desc>; paths: readonly string[] }): Promise<void>;
  pruneOne(apis: ConfigApis, input: { id: string; etag: string }): Promise<void>;
}

const PAGE_SIZE = 500;

async function allPages<T>(page: (pageToken: string) => Promise<{ items: T[]; nextPageToken: string }>): Promise<T[]> {
  const items: T[] = [];
  let pageToken = "";
  do {
    const result = await page(pageToken);
    items.push(...result.items);
    pageToken = result.nextPageToken;
  } while (pageToken !== "");
  return items;
}

function stringField(fields: Readonly<Record<string, PlanJson>>, name: string): string {
  const value = fields[name];
  return typeof value === "string" ? value : "";
}

const clientKind: ResourceKind<typeof ClientSchema> = {
  kind: "Client",
  shape: {
    schema: ClientSchema,
    idField: "client_id",
    outputOnly: ["client_secret_last_four", "next_client_secret_last_four", "create_time", "update_time", "etag"],
  },
  // Deactivated, not deleted: its tokens stop at once, but its id and secret survive, so a
  // mistaken prune is undone with `tessera clients reactivate`.
  prune: "deactivate",
  keptWhenAbsent: ["status"],
  derive(fields) {
    // CreateClient's rule: no default scopes means all scopes; no default audiences means the first audience.
    const list = (name: string) => (Array.isArray(fields[name]) ? (fields[name] as PlanJson[]) : []);
    if (list("defaultScopes").length === 0) fields.defaultScopes = list("scopes");
    if (list("defaultAudiences").length === 0) fields.defaultAudiences = list("audiences").slice(0, 1);
  },
  references: () => [],
  idOf: (client) => client.clientId,
  etagOf: (client) => client.etag,
  isPruned: (client) => client.status === ClientStatus.INACTIVE,
  list: ({ admin }) =>
    allPages(async (pageToken) => {
      const page = await admin.listClients({ pageSize: PAGE_SIZE, pageToken });
      return { items: page.clients, nextPageToken: page.nextPageToken };
    }),
  async create({ admin }, { id, message, importedSecret }) {
    let created;
    let generatedSecret: string | undefined;
    if (importedSecret !== undefined) {
      created = (await admin.importClient({ client: { ...message, clientId: id }, clientSecret: importedSecret })).client;
    } else {
      // CreateClientRequest spells every writable Client field the same way, status aside.
      const json: Record<string, JsonValue> = { ...(toJson(ClientSchema, message) as Record<string, JsonValue>), clientId: id };
      delete json.status;
      const response = await admin.createClient(fromJson(CreateClientRequestSchema, json));
      created = response.client;
      generatedSecret = response.clientSecret;
    }
    if (message.status === ClientStatus.INACTIVE && created) await admin.deactivateClient({ clientId: id, etag: created.etag });
    return generatedSecret === undefined ? {} : { generatedSecret };
  },
  async update({ admin }, { id, etag, message, paths }) {
    // Status is not an UpdateClient field: it changes through Deactivate and Reactivate, which
    // also cut off or restore the client's tokens.
    let current = etag;
    const fields = paths.filter((path) => path !== "status");
    if (fields.length > 0) {
      const updated = await admin.updateClient({ client: { ...message, clientId: id, etag: current }, updateMask: { paths: fields } });
      current = updated.client?.etag ?? "";
    }
    if (paths.includes("status") && message.status === ClientStatus.INACTIVE) await admin.deactivateClient({ clientId: id, etag: current });
    if (paths.includes("status") && message.status === ClientStatus.ACTIVE) await admin.reactivateClient({ clientId: id, etag: current });
  },
  async pruneOne({ admin }, { id, etag }) {
    await admin.deactivateClient({ clientId: id, etag });
  },
};

const trustedIssuerKind: ResourceKind<typeof TrustedIssuerSchema> = {
  kind: "TrustedIssuer",
  shape: { schema: TrustedIssuerSchema, idField: "issuer", outputOnly: ["create_time", "update_time", "etag"] },
  prune: "delete",
  // Unset, the server stores its defaults (every asymmetric algorithm, 24 h, 60 s).
  keptWhenAbsent: ["allowedAlgorithms", "maxTokenLifetime", "clockTolerance"],
  references: () => [],
  idOf: (issuer) => issuer.issuer,
  etagOf: (issuer) => issuer.etag,
  isPruned: () => false,
  list: ({ federation }) =>
    allPages(async (pageToken) => {
      const page = await federation.listTrustedIssuers({ pageSize: PAGE_SIZE, pageToken });
      return { items: page.trustedIssuers, nextPageToken: page.nextPageToken };
    }),
  async create({ federation }, { id, message }) {
    await federation.createTrustedIssuer({ trustedIssuer: { ...message, issuer: id } });
    return {};
  },
  async update({ federation }, { id, etag, message, paths }) {
    await federation.updateTrustedIssuer({ trustedIssuer: { ...message, issuer: id, etag }, updateMask: { paths: [...paths] } });
  },
  async pruneOne({ federation }, { id, etag }) {
    await federation.deleteTrustedIssuer({ issuer: id, etag });
  },
};

const federationPolicyKind: ResourceKind<typeof FederationPolicySchema> = {
  kind: "FederationPolicy",
  shape: { schema: FederationPolicySchema, idField: "federation_policy_id", outputOnly: ["create_time", "update_time", "etag"] },
  prune: "delete",
  keptWhenAbsent: [],
  references: (fields) => [
    { kind: "TrustedIssuer", id: stringField(fields, "issuer"), field: "issuer" },
    { kind: "Client", id: stringField(fields, "clientId"), field: "clientId" },
  ],
  idOf: (policy) => policy.federationPolicyId,
  etagOf: (policy) => policy.etag,
  isPruned: () => false,
  list: ({ federation }) =>
    allPages(async (pageToken) => {
      const page = await federation.listFederationPolicies({ pageSize: PAGE_SIZE, pageToken });
      return { items: page.federationPolicies, nextPageToken: page.nextPageToken };
    }),
  async create({ federation }, { id, message }) {
    await federation.createFederationPolicy({ federationPolicy: message, federationPolicyId: id });
    return {};
  },
  async update({ federation }, { id, etag, message, paths }) {
    await federation.updateFederationPolicy({ federationPolicy: { ...message, federationPolicyId: id, etag }, updateMask: { paths: [...paths] } });
  },
  async pruneOne({ federation }, { id, etag }) {
    await federation.deleteFederationPolicy({ federationPolicyId: id, etag });
  },
};

const delegationPolicyKind: ResourceKind<typeof DelegationPolicySchema> = {
  kind: "DelegationPolicy",
  shape: { schema: DelegationPolicySchema, idField: "delegation_policy_id", outputOnly: ["create_time", "update_time", "etag"] },
  prune: "delete",
  keptWhenAbsent: [],
  references: (fields) => [{ kind: "Client", id: stringField(fields, "clientId"), field: "clientId" }],
  idOf: (policy) => policy.delegationPolicyId,
  etagOf: (policy) => policy.etag,
  isPruned: () => false,
  list: ({ federation }) =>
    allPages(async (pageToken) => {
      const page = await federation.listDelegationPolicies({ pageSize: PAGE_SIZE, pageToken });
      return { items: page.delegationPolicies, nextPageToken: page.nextPageToken };
    }),
  async create({ federation }, { id, message }) {
    await federation.createDelegationPolicy({ delegationPolicy: message, delegationPolicyId: id });
    return {};
  },
  async update({ federation }, { id, etag, message, paths }) {
    await federation.updateDelegationPolicy({ delegationPolicy: { ...message, delegationPolicyId: id, etag }, updateMask: { paths: [...paths] } });
  },
  async pruneOne({ federation }, { id, etag }) {
    await federation.deleteDelegationPolicy({ delegationPolicyId: id, etag });
  },
};

/** Every kind in dependency order: a kind names only kinds before it. */
export const RESOURCE_KINDS: readonly ResourceKind[] = [trustedIssuerKind, clientKind, federationPolicyKind, delegationPolicyKind] as unknown as readonly ResourceKind[];

export function kindNamed(kind: string): ResourceKind | undefined {
  return RESOURCE_KINDS.find((entry) => entry.kind === kind);
}
