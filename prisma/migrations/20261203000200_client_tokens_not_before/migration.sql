-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "tokens_not_before" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- Existing clients. An active, unexpired client keeps the tokens of its current life: its cut-off
-- is the start of its creation second (tokens issued so far carry no millisecond, so they count
-- from the start of their iat second), which still ends the tokens of an earlier client deleted
-- under the same id in an earlier second. An inactive or expired client has no live tokens and
-- must not get them back when reactivated or renewed: its cut-off is now.
UPDATE "clients"
SET "tokens_not_before" = CASE
    WHEN "status" = 'active' AND ("expire_time" IS NULL OR "expire_time" > CURRENT_TIMESTAMP) THEN date_trunc('second', "create_time")
    ELSE CURRENT_TIMESTAMP
  END;
