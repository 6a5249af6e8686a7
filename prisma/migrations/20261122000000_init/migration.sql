-- CreateTable
CREATE TABLE "clients" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "status" TEXT NOT NULL DEFAULT 'active',
    "allowed_scopes" TEXT[],
    "default_scopes" TEXT[],
    "allowed_audiences" TEXT[],
    "default_audiences" TEXT[],
    "trusted_metadata" JSONB NOT NULL DEFAULT '{}',
    "token_lifetime_seconds" INTEGER,
    "signing_alg" TEXT,
    "claims_template" JSONB NOT NULL DEFAULT '{}',
    "jwks" JSONB,
    "expire_time" TIMESTAMPTZ(3),
    "refresh_tokens_enabled" BOOLEAN NOT NULL DEFAULT false,
    "revision" INTEGER NOT NULL DEFAULT 1,
    "create_time" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "update_time" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "clients_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "client_secrets" (
    "id" UUID NOT NULL,
    "client_id" TEXT NOT NULL,
    "slot" TEXT NOT NULL,
    "algorithm" TEXT NOT NULL DEFAULT 'sha256',
    "hash" TEXT NOT NULL,
    "last_four" TEXT NOT NULL,
    "create_time" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "client_secrets_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "signing_keys" (
    "kid" TEXT NOT NULL,
    "alg" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "public_jwk" JSONB NOT NULL,
    "encrypted_private_key" BYTEA NOT NULL,
    "kek_id" TEXT NOT NULL,
    "create_time" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "activate_time" TIMESTAMPTZ(3),
    "retire_time" TIMESTAMPTZ(3),
    "remove_time" TIMESTAMPTZ(3),

    CONSTRAINT "signing_keys_pkey" PRIMARY KEY ("kid")
);

-- CreateTable
CREATE TABLE "revoked_tokens" (
    "jti" TEXT NOT NULL,
    "client_id" TEXT NOT NULL,
    "expire_time" TIMESTAMPTZ(3) NOT NULL,
    "revoke_time" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "revoked_tokens_pkey" PRIMARY KEY ("jti")
);

-- CreateTable
CREATE TABLE "audit_events" (
    "id" BIGSERIAL NOT NULL,
    "time" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "target_client_id" TEXT,
    "outcome" TEXT NOT NULL,
    "request_id" TEXT,
    "details" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "audit_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "clients_name_idx" ON "clients"("name");

-- CreateIndex
CREATE UNIQUE INDEX "client_secrets_client_id_slot_key" ON "client_secrets"("client_id", "slot");

-- CreateIndex
CREATE INDEX "signing_keys_alg_state_idx" ON "signing_keys"("alg", "state");

-- CreateIndex
CREATE INDEX "revoked_tokens_expire_time_idx" ON "revoked_tokens"("expire_time");

-- CreateIndex
CREATE INDEX "audit_events_target_client_id_id_idx" ON "audit_events"("target_client_id", "id");

-- AddForeignKey
ALTER TABLE "client_secrets" ADD CONSTRAINT "client_secrets_client_id_fkey" FOREIGN KEY ("client_id") REFERENCES "clients"("id") ON DELETE CASCADE ON UPDATE CASCADE;
