-- RFC 9449 §5.2: a client may require every token request to carry a DPoP proof.
-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "dpop_bound_access_tokens" BOOLEAN NOT NULL DEFAULT false;

-- A refresh token chain started with a DPoP proof is bound to that key (RFC 9449 §5).
-- AlterTable
ALTER TABLE "refresh_tokens" ADD COLUMN     "dpop_jkt" TEXT;
