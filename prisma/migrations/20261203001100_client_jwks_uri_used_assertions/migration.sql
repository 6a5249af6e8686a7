-- Clients may publish their private_key_jwt keys at a URL instead of registering them inline.
-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "jwks_uri" TEXT;

-- Accepted assertions, so a replay is refused on every replica until the assertion expires.
-- CreateTable
CREATE TABLE "used_assertions" (
    "key" TEXT NOT NULL,
    "expire_time" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "used_assertions_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE INDEX "used_assertions_expire_time_idx" ON "used_assertions"("expire_time");
