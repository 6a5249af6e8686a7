-- A refresh-token chain gets an absolute end: every token remembers when its chain began.
-- AlterTable
ALTER TABLE "refresh_tokens" ADD COLUMN     "access_token_expire_time" TIMESTAMPTZ(3),
ADD COLUMN     "access_token_jti" TEXT,
ADD COLUMN     "chain_start_time" TIMESTAMPTZ(3);

-- Existing chains began with their oldest token (used tokens were never deleted so far).
UPDATE "refresh_tokens" AS token
SET "chain_start_time" = (SELECT min(chain."create_time") FROM "refresh_tokens" AS chain WHERE chain."chain_id" = token."chain_id");

ALTER TABLE "refresh_tokens" ALTER COLUMN "chain_start_time" SET NOT NULL;
