-- CreateTable
CREATE TABLE "trusted_issuers" (
    "issuer" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "key_source" TEXT NOT NULL,
    "jwks_uri" TEXT,
    "jwks" JSONB,
    "spiffe_trust_domain" TEXT,
    "spiffe_bundle_endpoint" TEXT,
    "spiffe_bundle" JSONB,
    "audiences" TEXT[],
    "allowed_algorithms" TEXT[],
    "max_token_lifetime_seconds" INTEGER NOT NULL,
    "max_token_age_seconds" INTEGER,
    "clock_tolerance_seconds" INTEGER NOT NULL,
    "single_use" BOOLEAN NOT NULL DEFAULT false,
    "revision" INTEGER NOT NULL DEFAULT 1,
    "create_time" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "update_time" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "trusted_issuers_pkey" PRIMARY KEY ("issuer")
);

-- CreateTable
CREATE TABLE "federation_policies" (
    "id" TEXT NOT NULL,
    "issuer" TEXT NOT NULL,
    "client_id" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "claim_conditions" JSONB NOT NULL DEFAULT '[]',
    "copied_claims" TEXT[],
    "description" TEXT NOT NULL DEFAULT '',
    "revision" INTEGER NOT NULL DEFAULT 1,
    "create_time" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "update_time" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "federation_policies_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "delegation_policies" (
    "id" TEXT NOT NULL,
    "client_id" TEXT NOT NULL,
    "subject_audiences" TEXT[],
    "audiences" TEXT[],
    "scopes" TEXT[],
    "allow_impersonation" BOOLEAN NOT NULL DEFAULT false,
    "description" TEXT NOT NULL DEFAULT '',
    "revision" INTEGER NOT NULL DEFAULT 1,
    "create_time" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "update_time" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "delegation_policies_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "federation_policies_issuer_idx" ON "federation_policies"("issuer");

-- CreateIndex
CREATE INDEX "federation_policies_client_id_idx" ON "federation_policies"("client_id");

-- CreateIndex
CREATE INDEX "federation_policies_create_time_id_idx" ON "federation_policies"("create_time", "id");

-- CreateIndex
CREATE INDEX "delegation_policies_client_id_idx" ON "delegation_policies"("client_id");

-- CreateIndex
CREATE INDEX "delegation_policies_create_time_id_idx" ON "delegation_policies"("create_time", "id");

-- AddForeignKey
ALTER TABLE "federation_policies" ADD CONSTRAINT "federation_policies_issuer_fkey" FOREIGN KEY ("issuer") REFERENCES "trusted_issuers"("issuer") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "federation_policies" ADD CONSTRAINT "federation_policies_client_id_fkey" FOREIGN KEY ("client_id") REFERENCES "clients"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "delegation_policies" ADD CONSTRAINT "delegation_policies_client_id_fkey" FOREIGN KEY ("client_id") REFERENCES "clients"("id") ON DELETE CASCADE ON UPDATE CASCADE;
