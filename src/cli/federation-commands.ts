/**
 * `tessera trusted-issuer …`, `tessera federation-policy …` and `tessera delegation-policy …`:
 * workload identity federation and delegation over FederationService — create, get, list,
 * update, delete. Each command turns flags into one request (a few for `list --all`) and prints
 * the response.
 */
import { readFileSync } from "node:fs";
import { create, type JsonObject } from "@bufbuild/protobuf";
import { DurationSchema, timestampDate, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import { ClaimConditionOperator, type ClaimCondition, type DelegationPolicy, type FederationPolicy, type TrustedIssuer } from "../gen/tessera/v1/federation_pb.js";
import {
  CreateDelegationPolicyResponseSchema,
  CreateFederationPolicyResponseSchema,
  CreateTrustedIssuerResponseSchema,
  DeleteDelegationPolicyResponseSchema,
  DeleteFederationPolicyResponseSchema,
  DeleteTrustedIssuerResponseSchema,
  GetDelegationPolicyResponseSchema,
  GetFederationPolicyResponseSchema,
  GetTrustedIssuerResponseSchema,
  ListDelegationPoliciesResponseSchema,
  ListFederationPoliciesResponseSchema,
  ListTrustedIssuersResponseSchema,
  UpdateDelegationPolicyResponseSchema,
  UpdateFederationPolicyResponseSchema,
  UpdateTrustedIssuerResponseSchema,
} from "../gen/tessera/v1/federation_service_pb.js";
import { durationSeconds, positiveInteger, type OptionSpecs, type ParsedArgs } from "./args.js";
import { usageError } from "./cli-error.js";
import type { Command } from "./command.js";
import { messageJson, renderFields, renderTable } from "./output.js";

// Shared pieces.

const POLICY_ID_OPTION: OptionSpecs = {
  id: { type: "string", placeholder: "ID", help: "The policy's id, 1 to 63 of a-z 0-9 - (default: one Tessera chooses)." },
};

const ETAG_OPTION: OptionSpecs = {
  etag: { type: "string", placeholder: "ETAG", help: "Act only if the resource's etag is still this (else exit 4)." },
};

const PAGE_OPTIONS: OptionSpecs = {
  "page-size": { type: "string", placeholder: "N", help: "Entries per page (server default 50, at most 500)." },
  "page-token": { type: "string", placeholder: "TOKEN", help: "Continue from a previous page." },
  all: { type: "boolean", help: "Follow next_page_token to the end and print every entry." },
};

function duration(args: ParsedArgs, flag: string): Duration | undefined {
  const raw = args.string(flag);
  return raw === undefined || raw === "default" ? undefined : create(DurationSchema, { seconds: BigInt(durationSeconds(raw, flag)) });
}

function jsonFile(args: ParsedArgs, flag: string): JsonObject | undefined {
  const path = args.string(flag);
  if (path === undefined || path === "") return undefined;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw usageError(`--${flag}: cannot read ${JSON.stringify(path)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw usageError(`--${flag}: ${JSON.stringify(path)} is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw usageError(`--${flag}: ${JSON.stringify(path)} must hold a JSON object (a JWKS)`);
  return value as JsonObject;
}

/** The mask paths of the flags given; a usage error when there are none. */
function maskOf(args: ParsedArgs, paths: Readonly<Record<string, string>>): string[] {
  const given = [...new Set(Object.entries(paths).filter(([flag]) => args.has(flag)).map(([, path]) => path))];
  if (given.length === 0) throw usageError(`nothing to update: give at least one of ${Object.keys(paths).map((flag) => `--${flag}`).join(", ")}`);
  return given;
}

/** `--x` turns it on, `--no-x` off; neither leaves it unset (false on create). */
function toggle(args: ParsedArgs, flag: string): boolean {
  if (args.flag(flag) && args.flag(`no-${flag}`)) throw usageError(`give --${flag} or --no-${flag}, not both`);
  return args.flag(flag);
}

async function allPages<T, R extends { nextPageToken: string }>(first: R, more: (pageToken: string) => Promise<R>, items: (page: R) => T[], all: boolean) {
  let page = first;
  const collected = [...items(page)];
  while (all && page.nextPageToken !== "") {
    page = await more(page.nextPageToken);
    collected.push(...items(page));
  }
  return { items: collected, nextPageToken: page.nextPageToken };
}

function time(timestamp: Timestamp | undefined): string {
  return timestamp ? timestampDate(timestamp).toISOString().replace(/\.\d{3}Z$/, "Z") : "";
}

function seconds(value: Duration | undefined, unset: string): string {
  return value ? `${value.seconds}s` : unset;
}

function nextPageNote(nextPageToken: string): string[] {
  return nextPageToken ? [`more entries follow; for the next page add --page-token ${nextPageToken}, or use --all`] : [];
}

// Trusted issuers.

const ISSUER_OPTIONS: OptionSpecs = {
  description: { type: "string", placeholder: "TEXT", help: "Free-form description." },
  "jwks-uri": { type: "string", placeholder: "URL", help: "Where the issuer publishes its JWKS. Without a key source, keys come from OIDC discovery." },
  "jwks-file": { type: "string", placeholder: "FILE", help: "A file holding the issuer's JWKS (public keys only), for air-gapped clusters." },
  "spiffe-trust-domain": { type: "string", placeholder: "DOMAIN", help: "A SPIFFE trust domain whose JWT-SVID authorities verify the tokens." },
  "spiffe-bundle-endpoint": { type: "string", placeholder: "URL", help: "The trust domain's SPIFFE bundle endpoint." },
  "spiffe-bundle-file": { type: "string", placeholder: "FILE", help: "The trust domain's bundle (a JWKS) from a file, instead of the endpoint." },
  audience: { type: "string", multiple: true, placeholder: "AUD", help: "An audience accepted tokens must carry (default: Tessera's issuer)." },
  algorithm: { type: "string", multiple: true, placeholder: "ALG", help: "An accepted JWS algorithm: RS256…RS512, PS256…PS512, ES256…ES512, EdDSA (default: all)." },
  "max-token-lifetime": { type: "string", placeholder: "DURATION", help: "Longest exp - iat accepted: 3600, 90s, 15m, 1h, 1d (default 24h, at most 7d)." },
  "max-token-age": { type: "string", placeholder: "DURATION", help: "Oldest iat accepted (default: no limit beyond the lifetime)." },
  "clock-tolerance": { type: "string", placeholder: "DURATION", help: "Clock skew allowed (default 60s, at most 5m)." },
  "single-use": { type: "boolean", help: "Refuse a second use of the same jti (workload tokens are reused by design: off by default)." },
};

const ISSUER_MASK: Readonly<Record<string, string>> = {
  description: "description",
  "jwks-uri": "jwks_uri",
  "jwks-file": "jwks",
  "spiffe-trust-domain": "spiffe",
  "spiffe-bundle-endpoint": "spiffe",
  "spiffe-bundle-file": "spiffe",
  audience: "audiences",
  algorithm: "allowed_algorithms",
  "max-token-lifetime": "max_token_lifetime",
  "max-token-age": "max_token_age",
  "clock-tolerance": "clock_tolerance",
  "single-use": "single_use",
  "no-single-use": "single_use",
};

function issuerFields(args: ParsedArgs) {
  const trustDomain = args.string("spiffe-trust-domain");
  const bundleEndpoint = args.string("spiffe-bundle-endpoint");
  const bundle = jsonFile(args, "spiffe-bundle-file");
  if ((bundleEndpoint || bundle) && !trustDomain) throw usageError("--spiffe-bundle-endpoint and --spiffe-bundle-file need --spiffe-trust-domain");
  return {
    description: args.string("description") ?? "",
    jwksUri: args.string("jwks-uri") ?? "",
    jwks: jsonFile(args, "jwks-file"),
    spiffe: trustDomain ? { trustDomain, bundleEndpoint: bundleEndpoint ?? "", bundle } : undefined,
    audiences: args.list("audience"),
    allowedAlgorithms: args.list("algorithm"),
    maxTokenLifetime: duration(args, "max-token-lifetime"),
    maxTokenAge: duration(args, "max-token-age"),
    clockTolerance: duration(args, "clock-tolerance"),
    singleUse: toggle(args, "single-use"),
  };
}

export function trustedIssuerView(issuer: TrustedIssuer): string {
  const keys = issuer.jwksUri
    ? `jwks_uri ${issuer.jwksUri}`
    : issuer.jwks
      ? `inline JWKS (${Array.isArray(issuer.jwks.keys) ? issuer.jwks.keys.length : 0} keys)`
      : issuer.spiffe
        ? `SPIFFE trust domain ${issuer.spiffe.trustDomain} (${issuer.spiffe.bundleEndpoint || "inline bundle"})`
        : "OIDC discovery";
  return renderFields([
    ["issuer", issuer.issuer],
    ["description", issuer.description],
    ["keys", keys],
    ["audiences", issuer.audiences.join(" ") || "(Tessera's issuer)"],
    ["allowed_algorithms", issuer.allowedAlgorithms.join(" ")],
    ["max_token_lifetime", seconds(issuer.maxTokenLifetime, "")],
    ["max_token_age", seconds(issuer.maxTokenAge, "no limit")],
    ["clock_tolerance", seconds(issuer.clockTolerance, "")],
    ["single_use", String(issuer.singleUse)],
    ["created", time(issuer.createTime)],
    ["updated", time(issuer.updateTime)],
    ["etag", issuer.etag],
  ]);
}

const createTrustedIssuer: Command = {
  path: ["trusted-issuer", "create"],
  summary: "Trust an external token issuer (Kubernetes, CI OIDC, SPIFFE).",
  description:
    "Give at most one key source: --jwks-uri, --jwks-file, or --spiffe-trust-domain with --spiffe-bundle-endpoint or --spiffe-bundle-file. With none, keys come from the issuer's OIDC discovery document.",
  connects: true,
  options: { issuer: { type: "string", placeholder: "URL", help: "The exact iss of its tokens. Required." }, ...ISSUER_OPTIONS },
  async run({ args, federation }) {
    const response = await (await federation()).createTrustedIssuer({ trustedIssuer: { ...issuerFields(args), issuer: args.required("issuer") } });
    return { json: messageJson(CreateTrustedIssuerResponseSchema, response), text: trustedIssuerView(response.trustedIssuer!) };
  },
};

const getTrustedIssuer: Command = {
  path: ["trusted-issuer", "get"],
  summary: "Show one trusted issuer.",
  arguments: ["ISSUER"],
  connects: true,
  options: {},
  async run({ args, federation }) {
    const response = await (await federation()).getTrustedIssuer({ issuer: args.positional(0) });
    return { json: messageJson(GetTrustedIssuerResponseSchema, response), text: trustedIssuerView(response.trustedIssuer!) };
  },
};

const listTrustedIssuers: Command = {
  path: ["trusted-issuer", "list"],
  summary: "List trusted issuers, oldest first.",
  connects: true,
  options: PAGE_OPTIONS,
  async run({ args, federation }) {
    const api = await federation();
    const request = { pageSize: positiveInteger(args.string("page-size"), "page-size") ?? 0, pageToken: args.string("page-token") ?? "" };
    const { items, nextPageToken } = await allPages(
      await api.listTrustedIssuers(request),
      (pageToken) => api.listTrustedIssuers({ ...request, pageToken }),
      (page) => page.trustedIssuers,
      args.flag("all"),
    );
    return {
      json: messageJson(ListTrustedIssuersResponseSchema, create(ListTrustedIssuersResponseSchema, { trustedIssuers: items, nextPageToken })),
      text: renderTable(
        ["issuer", "keys", "audiences", "created"],
        items.map((issuer) => [issuer.issuer, issuer.jwksUri ? "jwks_uri" : issuer.jwks ? "jwks" : issuer.spiffe ? "spiffe" : "discovery", issuer.audiences.join(" "), time(issuer.createTime)]),
      ),
      notes: nextPageNote(nextPageToken),
    };
  },
};

const updateTrustedIssuer: Command = {
  path: ["trusted-issuer", "update"],
  summary: "Change the fields given as flags; the others stay.",
  description:
    "Only the flags given are changed (they make the update mask). A repeatable flag replaces the whole list; --audience '' empties it. Switching key source: give the new one and empty the old, e.g. --jwks-uri URL --jwks-file ''.",
  arguments: ["ISSUER"],
  connects: true,
  options: { ...ISSUER_OPTIONS, "no-single-use": { type: "boolean", help: "Accept a jti more than once again." }, ...ETAG_OPTION },
  async run({ args, federation }) {
    const updateMask = { paths: maskOf(args, ISSUER_MASK) };
    const response = await (await federation()).updateTrustedIssuer({
      trustedIssuer: { ...issuerFields(args), issuer: args.positional(0), etag: args.string("etag") ?? "" },
      updateMask,
    });
    return { json: messageJson(UpdateTrustedIssuerResponseSchema, response), text: trustedIssuerView(response.trustedIssuer!) };
  },
};

const deleteTrustedIssuer: Command = {
  path: ["trusted-issuer", "delete"],
  summary: "Stop trusting an issuer (refused while federation policies name it).",
  arguments: ["ISSUER"],
  connects: true,
  options: ETAG_OPTION,
  async run({ args, federation }) {
    const issuer = args.positional(0);
    const response = await (await federation()).deleteTrustedIssuer({ issuer, etag: args.string("etag") ?? "" });
    return { json: messageJson(DeleteTrustedIssuerResponseSchema, response), text: `deleted trusted issuer ${issuer}` };
  },
};

// Federation policies.

/**
 * `claim=value` (equals), `claim~=pattern` (glob, `*` matches any run), `claim in a,b,c`
 * (one of). The claim is a dotted path: `kubernetes.io.namespace=payments`.
 */
export function parseCondition(text: string): { claim: string; operator: ClaimConditionOperator; values: string[] } {
  const oneOf = /^\s*(\S+)\s+in\s+(.*)$/.exec(text);
  if (oneOf) return { claim: oneOf[1]!, operator: ClaimConditionOperator.ONE_OF, values: oneOf[2]!.split(",").map((value) => value.trim()).filter((value) => value !== "") };
  const compare = /^\s*([^\s=~]+)\s*(~=|=)(.*)$/.exec(text);
  if (!compare) throw usageError(`--condition must be claim=value, claim~=glob or "claim in a,b,c", got ${JSON.stringify(text)}`);
  return { claim: compare[1]!, operator: compare[2] === "~=" ? ClaimConditionOperator.GLOB : ClaimConditionOperator.EQUALS, values: [compare[3]!] };
}

function conditionText(condition: ClaimCondition): string {
  switch (condition.operator) {
    case ClaimConditionOperator.GLOB:
      return `${condition.claim}~=${condition.values[0] ?? ""}`;
    case ClaimConditionOperator.ONE_OF:
      return `${condition.claim} in ${condition.values.join(",")}`;
    default:
      return `${condition.claim}=${condition.values[0] ?? ""}`;
  }
}

const POLICY_OPTIONS: OptionSpecs = {
  issuer: { type: "string", placeholder: "URL", help: "The trusted issuer whose tokens the policy accepts." },
  client: { type: "string", placeholder: "ID", help: "The Tessera client those tokens stand for." },
  subject: { type: "string", placeholder: "PATTERN", help: "The incoming sub, exact or a glob with * (e.g. 'system:serviceaccount:payments:*')." },
  condition: {
    type: "string",
    multiple: true,
    placeholder: "COND",
    help: "A condition on another claim: claim=value (equals), claim~=glob, or 'claim in a,b,c' (one of); dotted paths reach nested claims.",
  },
  "copy-claim": { type: "string", multiple: true, placeholder: "CLAIM", help: "An incoming claim the client's claims template may copy as {{assertion.<claim>}}." },
  description: { type: "string", placeholder: "TEXT", help: "Free-form description." },
};

const POLICY_MASK: Readonly<Record<string, string>> = {
  issuer: "issuer",
  client: "client_id",
  subject: "subject",
  condition: "claim_conditions",
  "copy-claim": "copied_claims",
  description: "description",
};

function policyFields(args: ParsedArgs) {
  return {
    issuer: args.string("issuer") ?? "",
    clientId: args.string("client") ?? "",
    subject: args.string("subject") ?? "",
    claimConditions: args.list("condition").map(parseCondition),
    copiedClaims: args.list("copy-claim"),
    description: args.string("description") ?? "",
  };
}

export function federationPolicyView(policy: FederationPolicy): string {
  return renderFields([
    ["federation_policy_id", policy.federationPolicyId],
    ["issuer", policy.issuer],
    ["client_id", policy.clientId],
    ["subject", policy.subject],
    ["conditions", policy.claimConditions.map(conditionText).join("; ")],
    ["copied_claims", policy.copiedClaims.join(" ")],
    ["description", policy.description],
    ["created", time(policy.createTime)],
    ["updated", time(policy.updateTime)],
    ["etag", policy.etag],
  ]);
}

const createFederationPolicy: Command = {
  path: ["federation-policy", "create"],
  summary: "Let tokens of a trusted issuer stand for a client.",
  description: "Conditions: claim=value (equals), claim~=glob (* matches any run of characters), 'claim in a,b,c' (one of the values); all must hold.",
  connects: true,
  options: { ...POLICY_OPTIONS, ...POLICY_ID_OPTION },
  async run({ args, federation }) {
    args.required("issuer");
    args.required("client");
    args.required("subject");
    const response = await (await federation()).createFederationPolicy({ federationPolicy: policyFields(args), federationPolicyId: args.string("id") ?? "" });
    return { json: messageJson(CreateFederationPolicyResponseSchema, response), text: federationPolicyView(response.federationPolicy!) };
  },
};

const getFederationPolicy: Command = {
  path: ["federation-policy", "get"],
  summary: "Show one federation policy.",
  arguments: ["ID"],
  connects: true,
  options: {},
  async run({ args, federation }) {
    const response = await (await federation()).getFederationPolicy({ federationPolicyId: args.positional(0) });
    return { json: messageJson(GetFederationPolicyResponseSchema, response), text: federationPolicyView(response.federationPolicy!) };
  },
};

const listFederationPolicies: Command = {
  path: ["federation-policy", "list"],
  summary: "List federation policies, oldest first.",
  connects: true,
  options: {
    issuer: { type: "string", placeholder: "URL", help: "Only policies naming this trusted issuer." },
    client: { type: "string", placeholder: "ID", help: "Only policies for this client." },
    ...PAGE_OPTIONS,
  },
  async run({ args, federation }) {
    const api = await federation();
    const request = {
      pageSize: positiveInteger(args.string("page-size"), "page-size") ?? 0,
      pageToken: args.string("page-token") ?? "",
      issuer: args.string("issuer") ?? "",
      clientId: args.string("client") ?? "",
    };
    const { items, nextPageToken } = await allPages(
      await api.listFederationPolicies(request),
      (pageToken) => api.listFederationPolicies({ ...request, pageToken }),
      (page) => page.federationPolicies,
      args.flag("all"),
    );
    return {
      json: messageJson(ListFederationPoliciesResponseSchema, create(ListFederationPoliciesResponseSchema, { federationPolicies: items, nextPageToken })),
      text: renderTable(
        ["id", "issuer", "client", "subject", "conditions"],
        items.map((policy) => [policy.federationPolicyId, policy.issuer, policy.clientId, policy.subject, policy.claimConditions.map(conditionText).join("; ")]),
      ),
      notes: nextPageNote(nextPageToken),
    };
  },
};

const updateFederationPolicy: Command = {
  path: ["federation-policy", "update"],
  summary: "Change the fields given as flags; the others stay.",
  description: "Only the flags given are changed (they make the update mask). A repeatable flag replaces the whole list; --condition '' removes every condition.",
  arguments: ["ID"],
  connects: true,
  options: { ...POLICY_OPTIONS, ...ETAG_OPTION },
  async run({ args, federation }) {
    const updateMask = { paths: maskOf(args, POLICY_MASK) };
    const response = await (await federation()).updateFederationPolicy({
      federationPolicy: { ...policyFields(args), federationPolicyId: args.positional(0), etag: args.string("etag") ?? "" },
      updateMask,
    });
    return { json: messageJson(UpdateFederationPolicyResponseSchema, response), text: federationPolicyView(response.federationPolicy!) };
  },
};

const deleteFederationPolicy: Command = {
  path: ["federation-policy", "delete"],
  summary: "Delete a federation policy.",
  arguments: ["ID"],
  connects: true,
  options: ETAG_OPTION,
  async run({ args, federation }) {
    const id = args.positional(0);
    const response = await (await federation()).deleteFederationPolicy({ federationPolicyId: id, etag: args.string("etag") ?? "" });
    return { json: messageJson(DeleteFederationPolicyResponseSchema, response), text: `deleted federation policy ${id}` };
  },
};

// Delegation policies.

const DELEGATION_OPTIONS: OptionSpecs = {
  client: { type: "string", placeholder: "ID", help: "The actor: the client that exchanges tokens it received." },
  "subject-audience": { type: "string", multiple: true, placeholder: "AUD", help: "An audience a subject token may carry for the actor to exchange it (its own id always counts)." },
  audience: { type: "string", multiple: true, placeholder: "AUD", help: "A target the actor may ask for." },
  scope: { type: "string", multiple: true, placeholder: "SCOPE", help: "A scope the actor may receive at most." },
  "allow-impersonation": { type: "boolean", help: "Allow tokens for the subject without act (off by default)." },
  description: { type: "string", placeholder: "TEXT", help: "Free-form description." },
};

const DELEGATION_MASK: Readonly<Record<string, string>> = {
  client: "client_id",
  "subject-audience": "subject_audiences",
  audience: "audiences",
  scope: "scopes",
  "allow-impersonation": "allow_impersonation",
  "no-allow-impersonation": "allow_impersonation",
  description: "description",
};

function delegationFields(args: ParsedArgs) {
  return {
    clientId: args.string("client") ?? "",
    subjectAudiences: args.list("subject-audience"),
    audiences: args.list("audience"),
    scopes: args.list("scope"),
    allowImpersonation: toggle(args, "allow-impersonation"),
    description: args.string("description") ?? "",
  };
}

export function delegationPolicyView(policy: DelegationPolicy): string {
  return renderFields([
    ["delegation_policy_id", policy.delegationPolicyId],
    ["client_id", policy.clientId],
    ["subject_audiences", policy.subjectAudiences.join(" ")],
    ["audiences", policy.audiences.join(" ")],
    ["scopes", policy.scopes.join(" ")],
    ["allow_impersonation", String(policy.allowImpersonation)],
    ["description", policy.description],
    ["created", time(policy.createTime)],
    ["updated", time(policy.updateTime)],
    ["etag", policy.etag],
  ]);
}

const createDelegationPolicy: Command = {
  path: ["delegation-policy", "create"],
  summary: "Let a client exchange tokens it received for tokens toward other services.",
  connects: true,
  options: { ...DELEGATION_OPTIONS, ...POLICY_ID_OPTION },
  async run({ args, federation }) {
    args.required("client");
    const response = await (await federation()).createDelegationPolicy({ delegationPolicy: delegationFields(args), delegationPolicyId: args.string("id") ?? "" });
    return { json: messageJson(CreateDelegationPolicyResponseSchema, response), text: delegationPolicyView(response.delegationPolicy!) };
  },
};

const getDelegationPolicy: Command = {
  path: ["delegation-policy", "get"],
  summary: "Show one delegation policy.",
  arguments: ["ID"],
  connects: true,
  options: {},
  async run({ args, federation }) {
    const response = await (await federation()).getDelegationPolicy({ delegationPolicyId: args.positional(0) });
    return { json: messageJson(GetDelegationPolicyResponseSchema, response), text: delegationPolicyView(response.delegationPolicy!) };
  },
};

const listDelegationPolicies: Command = {
  path: ["delegation-policy", "list"],
  summary: "List delegation policies, oldest first.",
  connects: true,
  options: { client: { type: "string", placeholder: "ID", help: "Only policies whose actor is this client." }, ...PAGE_OPTIONS },
  async run({ args, federation }) {
    const api = await federation();
    const request = {
      pageSize: positiveInteger(args.string("page-size"), "page-size") ?? 0,
      pageToken: args.string("page-token") ?? "",
      clientId: args.string("client") ?? "",
    };
    const { items, nextPageToken } = await allPages(
      await api.listDelegationPolicies(request),
      (pageToken) => api.listDelegationPolicies({ ...request, pageToken }),
      (page) => page.delegationPolicies,
      args.flag("all"),
    );
    return {
      json: messageJson(ListDelegationPoliciesResponseSchema, create(ListDelegationPoliciesResponseSchema, { delegationPolicies: items, nextPageToken })),
      text: renderTable(
        ["id", "client", "audiences", "scopes", "impersonation"],
        items.map((policy) => [policy.delegationPolicyId, policy.clientId, policy.audiences.join(" "), policy.scopes.join(" "), String(policy.allowImpersonation)]),
      ),
      notes: nextPageNote(nextPageToken),
    };
  },
};

const updateDelegationPolicy: Command = {
  path: ["delegation-policy", "update"],
  summary: "Change the fields given as flags; the others stay.",
  description: "Only the flags given are changed (they make the update mask). A repeatable flag replaces the whole list; --scope '' empties it.",
  arguments: ["ID"],
  connects: true,
  options: { ...DELEGATION_OPTIONS, "no-allow-impersonation": { type: "boolean", help: "Turn impersonation off again." }, ...ETAG_OPTION },
  async run({ args, federation }) {
    const updateMask = { paths: maskOf(args, DELEGATION_MASK) };
    const response = await (await federation()).updateDelegationPolicy({
      delegationPolicy: { ...delegationFields(args), delegationPolicyId: args.positional(0), etag: args.string("etag") ?? "" },
      updateMask,
    });
    return { json: messageJson(UpdateDelegationPolicyResponseSchema, response), text: delegationPolicyView(response.delegationPolicy!) };
  },
};

const deleteDelegationPolicy: Command = {
  path: ["delegation-policy", "delete"],
  summary: "Delete a delegation policy.",
  arguments: ["ID"],
  connects: true,
  options: ETAG_OPTION,
  async run({ args, federation }) {
    const id = args.positional(0);
    const response = await (await federation()).deleteDelegationPolicy({ delegationPolicyId: id, etag: args.string("etag") ?? "" });
    return { json: messageJson(DeleteDelegationPolicyResponseSchema, response), text: `deleted delegation policy ${id}` };
  },
};

export const FEDERATION_COMMANDS: readonly Command[] = [
  createTrustedIssuer,
  getTrustedIssuer,
  listTrustedIssuers,
  updateTrustedIssuer,
  deleteTrustedIssuer,
  createFederationPolicy,
  getFederationPolicy,
  listFederationPolicies,
  updateFederationPolicy,
  deleteFederationPolicy,
  createDelegationPolicy,
  getDelegationPolicy,
  listDelegationPolicies,
  updateDelegationPolicy,
  deleteDelegationPolicy,
];
