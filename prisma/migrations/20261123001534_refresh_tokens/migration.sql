-- CreateTable
CREATE TABLE "refresh_tokens" (
    "id" UUID NOT NULL,
    "hash" TEXT NOT NULL,
    "client_id" TEXT NOT NULL,
    "chain_id" UUID NOT NULL,
    "scopes" TEXT[],
    "audiences" TEXT[],
    "secret_hash" TEXT NOT NULL,
    "create_time" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expire_time" TIMESTAMPTZ(3) NOT NULL,
    "use_time" TIMESTAMPTZ(3),

    CONSTRAINT "refresh_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "refresh_tokens_hash_key" ON "refresh_tokens"("hash");

-- CreateIndex
CREATE INDEX "refresh_tokens_chain_id_idx" ON "refresh_tokens"("chain_id");

-- CreateIndex
CREATE INDEX "refresh_tokens_expire_time_idx" ON "refresh_tokens"("expire_time");

-- AddForeignKey
ALTER TABLE "refresh_tokens" ADD CONSTRAINT "refresh_tokens_client_id_fkey" FOREIGN KEY ("client_id") REFERENCES "clients"("id") ON DELETE CASCADE ON UPDATE CASCADE;
