-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "rate_limit_per_second" INTEGER;
