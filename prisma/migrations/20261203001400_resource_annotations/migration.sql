-- Tools' key-value pairs (AIP-128) on every operator-managed resource; `tessera apply` marks
-- what it manages so `--prune` never touches anything else.
-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "annotations" JSONB NOT NULL DEFAULT '{}';

-- AlterTable
ALTER TABLE "trusted_issuers" ADD COLUMN     "annotations" JSONB NOT NULL DEFAULT '{}';

-- AlterTable
ALTER TABLE "federation_policies" ADD COLUMN     "annotations" JSONB NOT NULL DEFAULT '{}';

-- AlterTable
ALTER TABLE "delegation_policies" ADD COLUMN     "annotations" JSONB NOT NULL DEFAULT '{}';
