/**
 * Delegation by token exchange (RFC 8693) through the real server, as the README tells it: client
 * `web` (C) calls service `orders` (A) with a token for A; A exchanges it — with openid-client's
 * generic grant request — for a token toward `billing` (B), narrower in scope, that B's
 * requireToken middleware accepts with act.sub = A; B exchanges that over gRPC toward `ledger`
 * (D), nesting the chain, which D's tokenInterceptor sees; the depth limit refuses the next hop.
 * Every refusal of the issue, over HTTP and over gRPC, on both storages; revocation and
 * deactivation following the chain; and on two replicas sharing PostgreSQL, revoking C's token
 * makes the derived tokens inactive on the other replica within a second.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, createClient, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import * as openid from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accessTokenKey, createVerifier, requireToken, tokenInterceptor, tokenOf, type Verifier } from "tessera/verifier";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../src/gen/grpc/health/v1/health_pb.js";
import { ClientAdminService } from "../../src/gen/tessera/v1/client_admin_service_pb.js";
import { FederationService } from "../../src/gen/tessera/v1/federation_service_pb.js";
import { IntrospectionService } from "../../src/gen/tessera/v1/introspection_service_pb.js";
import { OAuthErrorSchema } from "../../src/gen/tessera/v1/oauth_error_pb.js";
import { GrantType, TokenService } from "../../src/gen/tessera/v1/token_service_pb.js";
import { startReplicas, type Replica, type Replicas } from "../support/replicas.js";
import { ADMIN_CLIENT, STORAGE_KINDS, basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

/** The three services of the story, the caller, and one more hop for the depth limit. */
const C = "web";
const A = "orders";
const B = "billing";
const D = "ledger";
const E = "archive";

interface Credentials {
  readonly clientId: string;
  readonly clientSecret: string;
}

interface TokenAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
}

async function postForm(url: string, credentials: Credentials, parameters: Record<string, string>): Promise<TokenAnswer> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(credentials.clientId, credentials.clientSecret) },
    body: new URLSearchParams(parameters),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** Creates the story's clients and delegation policies through the admin APIs, as the README does. */
async function setUpStory(baseUrl: string, adminToken: string): Promise<Record<string, Credentials>> {
  const transport = createConnectTransport({ baseUrl, httpVersion: "1.1" });
  const auth = { headers: { authorization: `Bearer ${adminToken}` } };
  const admin = createClient(ClientAdminService, transport);
  const federation = createClient(FederationService, transport);
  const clients: Record<string, Credentials> = {};
  const create = async (clientId: string, scopes: string[] = [], audiences: string[] = []) => {
    const created = await admin.createClient({ clientId, name: clientId, scopes, audiences }, auth);
    clients[clientId] = { clientId, clientSecret: created.clientSecret };
  };
  // The actors hold no scopes of their own: a delegated token carries C's authority.
  await create(A);
  await create(B);
  await create(D);
  await create(E);
  await create(C, ["orders:read", "billing:read", "ledger:read"], [A, "inventory"]);
  const policy = (clientId: string, audiences: string[], scopes: string[]) =>
    federation.createDelegationPolicy({ delegationPolicy: { clientId, audiences, scopes } }, auth);
  await policy(A, [B], ["billing:read", "ledger:read"]);
  await policy(B, [D], ["ledger:read"]);
  await policy(D, [E], ["ledger:read"]);
  return clients;
}

describe.each(STORAGE_KINDS)("delegation by token exchange, end to end on %s storage", (storage) => {
  let server: TestServer;
  let clients: Record<string, Credentials>;
  const clock = { offsetMs: 0 };
  const servers: http.Server[] = [];
  const verifiers: Verifier[] = [];

  const tokenUrl = () => `${server.url}/oauth/token`;
  const credentialsOf = (clientId: string) => clients[clientId]!;
  const tokenService = () => createClient(TokenService, createGrpcTransport({ baseUrl: server.url }));
  const introspectionService = (clientId: string) => ({
    client: createClient(IntrospectionService, createGrpcTransport({ baseUrl: server.url })),
    auth: { headers: { authorization: basicAuthorization(clientId, credentialsOf(clientId).clientSecret) } },
  });

  /** C's token for A, by client credentials. */
  const callerToken = async (scope = "orders:read billing:read ledger:read", audience = A): Promise<string> => {
    const answer = await postForm(tokenUrl(), credentialsOf(C), { grant_type: "client_credentials", audience, scope });
    expect(answer.status).toBe(200);
    return answer.body["access_token"] as string;
  };

  /** An exchange over HTTP (form, client_secret_basic). */
  const exchangeOverHttp = (actor: string, subjectToken: string, parameters: Record<string, string>) =>
    postForm(tokenUrl(), credentialsOf(actor), { grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, subject_token_type: ACCESS_TOKEN_TYPE, ...parameters });

  /** An exchange over gRPC (TokenService.IssueToken); the OAuth error code on refusal. */
  const exchangeOverGrpc = async (
    actor: string,
    subjectToken: string,
    request: { audiences?: string[]; scopes?: string[]; actorToken?: string; impersonate?: boolean },
  ) => {
    try {
      const answer = await tokenService().issueToken({
        grantType: GrantType.TOKEN_EXCHANGE,
        clientId: actor,
        credential: { case: "clientSecret", value: credentialsOf(actor).clientSecret },
        subjectToken,
        subjectTokenType: ACCESS_TOKEN_TYPE,
        ...(request.actorToken ? { actorToken: request.actorToken, actorTokenType: ACCESS_TOKEN_TYPE } : {}),
        audiences: request.audiences ?? [],
        scopes: request.scopes ?? [],
        impersonate: request.impersonate ?? false,
      });
      return { answer };
    } catch (error) {
      const connectError = ConnectError.from(error);
      return { code: connectError.code, error: connectError.findDetails(OAuthErrorSchema)[0]?.error, message: connectError.rawMessage };
    }
  };

  const introspect = async (caller: string, token: string) => (await postForm(`${server.url}/oauth/introspect`, credentialsOf(caller), { token })).body;

  async function listen(handler: http.RequestListener): Promise<string> {
    const resourceServer = http.createServer(handler);
    servers.push(resourceServer);
    await new Promise<void>((resolve) => resourceServer.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(resourceServer.address() as AddressInfo).port}`;
  }

  /** Service B: one route taking only tokens carried on someone's behalf, checked with Tessera too. */
  async function startBilling(): Promise<string> {
    const verifier = createVerifier({ issuer: server.config.issuer, audience: B, remote: { ...credentialsOf(B), baseUrl: server.url } });
    verifiers.push(verifier);
    const route = requireToken(verifier, { scopes: ["billing:read"], delegation: "require", checkRevocation: true });
    return listen((request, response) =>
      route(request, response, () => {
        const token = tokenOf(request);
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify({ subject: token.subject, clientId: token.clientId, actors: token.actors, actor: token.actor }));
      }),
    );
  }

  beforeAll(async () => {
    server = await startTestServer({
      storage,
      env: { TESSERA_TOKEN_EXCHANGE_MAX_DELEGATION_DEPTH: "2" },
      now: () => new Date(Date.now() + clock.offsetMs),
    });
    clients = await setUpStory(server.url, await server.adminToken("tessera:admin"));
  });
  afterAll(async () => {
    for (const verifier of verifiers) verifier.close();
    await Promise.all(servers.map((resourceServer) => new Promise((resolve) => resourceServer.close(resolve))));
    await server?.destroy();
  });

  it("lists the token exchange grant in the metadata (RFC 8414 grant_types_supported)", async () => {
    const metadata = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as { grant_types_supported: string[] };
    expect(metadata.grant_types_supported).toContain(TOKEN_EXCHANGE);
  });

  it("C → A → B over HTTP with openid-client, B → D over gRPC; B and D see the chain; the depth limit refuses D → E", async () => {
    const forA = await callerToken();

    // A exchanges C's token with a stock client library: openid-client's generic grant request.
    const config = await openid.discovery(new URL(server.config.issuer), A, undefined, openid.ClientSecretBasic(credentialsOf(A).clientSecret), {
      execute: [openid.allowInsecureRequests],
    });
    const forB = await openid.genericGrantRequest(config, TOKEN_EXCHANGE, {
      subject_token: forA,
      subject_token_type: ACCESS_TOKEN_TYPE,
      audience: B,
      scope: "billing:read ledger:read",
    });
    expect(forB).toMatchObject({ token_type: "bearer", issued_token_type: ACCESS_TOKEN_TYPE, scope: "billing:read ledger:read" });
    expect(forB.expires_in).toBeLessThanOrEqual(3600);
    expect(claimsOf(forB.access_token)).toMatchObject({ sub: C, client_id: A, aud: B, act: { sub: A } });

    // B's own middleware accepts it and sees who acts.
    const billing = await startBilling();
    const atBilling = await fetch(`${billing}/charges`, { headers: { authorization: `Bearer ${forB.access_token}` } });
    expect(atBilling.status).toBe(200);
    expect(await atBilling.json()).toEqual({ subject: C, clientId: A, actors: [A], actor: { subject: A } });
    // C's own token is not for B, and a direct token would not do on this route either.
    expect((await fetch(`${billing}/charges`, { headers: { authorization: `Bearer ${forA}` } })).status).toBe(401);

    // B calls D on C's behalf: the second hop, over gRPC, nests the chain.
    const hop = await exchangeOverGrpc(B, forB.access_token, { audiences: [D], scopes: ["ledger:read"] });
    expect(hop.answer).toMatchObject({ issuedTokenType: ACCESS_TOKEN_TYPE, scopes: ["ledger:read"], audiences: [D], tokenType: "Bearer" });
    const forD = hop.answer!.accessToken;
    expect(claimsOf(forD)).toMatchObject({ sub: C, client_id: B, aud: D, act: { sub: B, act: { sub: A } } });

    // D's Connect service sees the chain through its interceptor.
    const seen: (readonly string[] | undefined)[] = [];
    const ledgerVerifier = createVerifier({ issuer: server.config.issuer, audience: D });
    verifiers.push(ledgerVerifier);
    const ledgerService: Partial<ServiceImpl<typeof Health>> = {
      check(_request, context) {
        seen.push(context.values.get(accessTokenKey)?.actors);
        return { status: ServingStatus.SERVING };
      },
    };
    const ledger = await listen(
      connectNodeAdapter({ routes: (router) => router.service(Health, ledgerService), interceptors: [tokenInterceptor(ledgerVerifier, { scopes: ["ledger:read"] })] }),
    );
    const ledgerClient = createClient(Health, createConnectTransport({ baseUrl: ledger, httpVersion: "1.1" }));
    expect((await ledgerClient.check({}, { headers: { authorization: `Bearer ${forD}` } })).status).toBe(ServingStatus.SERVING);
    expect(seen).toEqual([[B, A]]);

    // A third exchange would exceed TESSERA_TOKEN_EXCHANGE_MAX_DELEGATION_DEPTH=2, over either protocol.
    const overHttp = await exchangeOverHttp(D, forD, { audience: E });
    expect(overHttp).toEqual({ status: 400, body: { error: "invalid_grant", error_description: "the delegation chain would exceed 2 exchanges" } });
    expect(await exchangeOverGrpc(D, forD, { audiences: [E] })).toMatchObject({ code: Code.InvalidArgument, error: "invalid_grant" });
  });

  it("returns act from introspection (RFC 7662) and AuthenticateToken", async () => {
    const forB = (await exchangeOverHttp(A, await callerToken(), { audience: B, scope: "billing:read ledger:read" })).body["access_token"] as string;
    const forD = (await exchangeOverHttp(B, forB, { audience: D })).body["access_token"] as string;
    expect(await introspect(B, forB)).toMatchObject({ active: true, sub: C, client_id: A, aud: B, scope: "billing:read ledger:read", act: { sub: A } });
    expect(await introspect(D, forD)).toMatchObject({ active: true, sub: C, client_id: B, act: { sub: B, act: { sub: A } } });
    expect((await introspect(B, await callerToken()))["act"]).toBeUndefined();

    const { client, auth } = introspectionService(D);
    const authenticated = await client.authenticateToken({ token: forD, requiredScopes: ["ledger:read"], requiredAudience: D }, auth);
    expect(authenticated).toMatchObject({ clientId: B, subject: C, act: { subject: B, act: { subject: A } } });
    expect(authenticated.customClaims).toEqual({});
    const introspected = await client.introspectToken({ token: forD }, auth);
    expect(introspected).toMatchObject({ active: true, subject: C, act: { subject: B, act: { subject: A } } });
  });

  describe("refusals, over HTTP and gRPC, issuing nothing", () => {
    interface Refusal {
      readonly name: string;
      readonly actor: string;
      readonly subject: () => Promise<string>;
      readonly audience?: string;
      readonly scope?: string;
      readonly actorToken?: () => Promise<string>;
      readonly impersonate?: boolean;
      readonly error: string;
      readonly description: string;
    }
    const refusals: Refusal[] = [
      { name: "a scope wider than the subject token's", actor: A, subject: () => callerToken("billing:read"), audience: B, scope: "ledger:read", error: "invalid_scope", description: "scope wider than the subject token's: ledger:read" },
      { name: "a scope the policy does not allow", actor: A, subject: () => callerToken(), audience: B, scope: "orders:read", error: "invalid_scope", description: "scope not allowed by this client's delegation policy: orders:read" },
      { name: "an audience the actor may not ask for", actor: A, subject: () => callerToken(), audience: D, error: "invalid_target", description: `audience not allowed for delegation by this client: ${D}` },
      { name: "a subject token not addressed to the actor", actor: A, subject: () => callerToken(undefined, "inventory"), audience: B, error: "invalid_grant", description: "the subject token is not addressed to this client" },
      {
        name: "a revoked subject token",
        actor: A,
        subject: async () => {
          const token = await callerToken();
          expect((await postForm(`${server.url}/oauth/revoke`, credentialsOf(C), { token })).status).toBe(200);
          return token;
        },
        audience: B,
        error: "invalid_grant",
        description: "subject_token is not an active access token of this server",
      },
      {
        name: "another client's actor_token",
        actor: A,
        subject: () => callerToken(),
        actorToken: async () => (await postForm(tokenUrl(), credentialsOf(B), { grant_type: "client_credentials" })).body["access_token"] as string,
        audience: B,
        error: "invalid_grant",
        description: "actor_token must be the authenticated client's own token",
      },
      { name: "impersonation without a policy allowing it", actor: A, subject: () => callerToken(), audience: B, impersonate: true, error: "unauthorized_client", description: "no delegation policy lets this client impersonate" },
      { name: "a client without any delegation policy", actor: E, subject: () => callerToken(undefined, A), audience: B, error: "unauthorized_client", description: "no delegation policy lets this client exchange access tokens" },
    ];

    it.each(refusals)("refuses $name over HTTP with 400 $error", async (refusal) => {
      const parameters: Record<string, string> = {};
      if (refusal.audience) parameters["audience"] = refusal.audience;
      if (refusal.scope) parameters["scope"] = refusal.scope;
      if (refusal.actorToken) Object.assign(parameters, { actor_token: await refusal.actorToken(), actor_token_type: ACCESS_TOKEN_TYPE });
      if (refusal.impersonate) parameters["impersonate"] = "true";
      const answer = await exchangeOverHttp(refusal.actor, await refusal.subject(), parameters);
      expect(answer).toEqual({ status: 400, body: { error: refusal.error, error_description: refusal.description } });
    });

    it.each(refusals)("refuses $name over gRPC with the OAuth error $error", async (refusal) => {
      const answer = await exchangeOverGrpc(refusal.actor, await refusal.subject(), {
        audiences: refusal.audience ? [refusal.audience] : [],
        scopes: refusal.scope ? [refusal.scope] : [],
        ...(refusal.actorToken ? { actorToken: await refusal.actorToken() } : {}),
        impersonate: refusal.impersonate ?? false,
      });
      const code = refusal.error === "invalid_grant" ? Code.InvalidArgument : Code.PermissionDenied;
      expect(answer).toEqual({ code, error: refusal.error, message: refusal.description });
    });

    it("refuses an exchange without client authentication with 401 invalid_client", async () => {
      const anonymous = await fetch(tokenUrl(), {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token: await callerToken(), subject_token_type: ACCESS_TOKEN_TYPE, audience: B }),
      });
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get("www-authenticate")).toBeTruthy();
      expect(((await anonymous.json()) as { error: string }).error).toBe("invalid_client");
    });
  });

  describe("revocation follows the chain", () => {
    it("makes every derived token inactive at introspection, AuthenticateToken and B's route when C's token is revoked", async () => {
      const forA = await callerToken();
      const forB = (await exchangeOverHttp(A, forA, { audience: B, scope: "billing:read ledger:read" })).body["access_token"] as string;
      const forD = (await exchangeOverHttp(B, forB, { audience: D })).body["access_token"] as string;
      const billing = await startBilling();
      expect((await fetch(`${billing}/charges`, { headers: { authorization: `Bearer ${forB}` } })).status).toBe(200);

      expect((await postForm(`${server.url}/oauth/revoke`, credentialsOf(C), { token: forA })).status).toBe(200);
      expect(await introspect(B, forB)).toEqual({ active: false });
      expect(await introspect(D, forD)).toEqual({ active: false });
      const { client, auth } = introspectionService(D);
      await expect(client.authenticateToken({ token: forD, requiredScopes: [] }, auth)).rejects.toMatchObject({ code: Code.Unauthenticated });
      // Still well signed and unexpired: only Tessera knows, and B's route asks it.
      expect((await fetch(`${billing}/charges`, { headers: { authorization: `Bearer ${forB}` } })).status).toBe(401);
    });

    it("makes derived tokens inactive when their actor is deactivated", async () => {
      // A second instance of A's role, under its own client id, which may exchange tokens addressed to A.
      const transport = createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" });
      const auth = { headers: { authorization: `Bearer ${await server.adminToken("tessera:admin")}` } };
      const actor = "orders-canary";
      const created = await createClient(ClientAdminService, transport).createClient({ clientId: actor, name: actor }, auth);
      clients[actor] = { clientId: actor, clientSecret: created.clientSecret };
      await createClient(FederationService, transport).createDelegationPolicy(
        { delegationPolicy: { clientId: actor, subjectAudiences: [A], audiences: [B], scopes: ["billing:read"] } },
        auth,
      );
      const forB = (await exchangeOverHttp(actor, await callerToken(), { audience: B })).body["access_token"] as string;
      expect(await introspect(B, forB)).toMatchObject({ active: true, sub: C, client_id: actor, scope: "billing:read", act: { sub: actor } });
      await createClient(ClientAdminService, transport).deactivateClient({ clientId: actor }, auth);
      expect(await introspect(B, forB)).toEqual({ active: false });
    });
  });

  // Last: it moves the server's clock forward for good; tokens issued afterwards would not
  // verify at the resource servers above, which keep the real time.
  it("refuses an expired subject token with invalid_grant, over HTTP and gRPC", async () => {
    const token = await callerToken();
    clock.offsetMs = 3_601_000;
    expect(await exchangeOverHttp(A, token, { audience: B })).toEqual({
      status: 400,
      body: { error: "invalid_grant", error_description: "subject_token is not an active access token of this server" },
    });
    expect(await exchangeOverGrpc(A, token, { audiences: [B] })).toMatchObject({ code: Code.InvalidArgument, error: "invalid_grant" });
  });
});

describe("revocation following the chain across replicas on one PostgreSQL", () => {
  /** How long a revocation may take to reach another replica. */
  const PROPAGATION_LIMIT_MS = 1_000;
  let started: Replicas;
  let replicas: readonly Replica[];
  let clients: Record<string, Credentials>;

  beforeAll(async () => {
    started = await startReplicas({ schema: "delegation_replicas", count: 2, issuer: "http://tessera.delegation.test" });
    replicas = started.replicas;
    const admin = await postForm(`${replicas[0]!.url}/oauth/token`, ADMIN_CLIENT, { grant_type: "client_credentials", scope: "tessera:admin" });
    clients = await setUpStory(replicas[0]!.url, admin.body["access_token"] as string);
  }, 120_000);
  afterAll(async () => {
    await started?.stop();
  });

  /** Polls until `check` holds; fails past the limit. */
  async function within(limitMs: number, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      if (await check()) return;
      if (Date.now() > deadline) throw new Error(`not within ${limitMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it("makes the derived tokens inactive on the other replica within a second of revoking C's token", async () => {
    const [first, second] = replicas as [Replica, Replica];
    const active = async (caller: string, token: string) =>
      (await postForm(`${second.url}/oauth/introspect`, clients[caller]!, { token })).body["active"] === true;
    const forA = (await postForm(`${first.url}/oauth/token`, clients[C]!, { grant_type: "client_credentials", audience: A, scope: "billing:read ledger:read" })).body["access_token"] as string;
    const exchange = async (actor: string, subjectToken: string, audience: string) =>
      (await postForm(`${first.url}/oauth/token`, clients[actor]!, { grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, subject_token_type: ACCESS_TOKEN_TYPE, audience })).body["access_token"] as string;
    const forB = await exchange(A, forA, B);
    const forD = await exchange(B, forB, D);
    // The policies reached the first replica's memory at once; the tokens verify on the second.
    await within(PROPAGATION_LIMIT_MS, async () => (await active(B, forB)) && (await active(D, forD)));

    const authenticates = async (caller: string, token: string) => {
      const introspection = createClient(IntrospectionService, createGrpcTransport({ baseUrl: second.url }));
      const auth = { headers: { authorization: basicAuthorization(caller, clients[caller]!.clientSecret) } };
      return introspection.authenticateToken({ token, requiredScopes: [] }, auth).then(
        () => true,
        (error: unknown) => (ConnectError.from(error).code === Code.Unauthenticated ? false : Promise.reject(error)),
      );
    };
    expect(await authenticates(D, forD)).toBe(true);

    expect((await postForm(`${first.url}/oauth/revoke`, clients[C]!, { token: forA })).status).toBe(200);
    await within(PROPAGATION_LIMIT_MS, async () => !(await active(B, forB)) && !(await active(D, forD)) && !(await authenticates(D, forD)));
  });
});
