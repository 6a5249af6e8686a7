-- How each client authenticates (RFC 7591 token_endpoint_auth_method) and, for tls_client_auth,
-- the subject DN or SAN its certificate must carry (RFC 8705 §2.1.2). Existing clients keep
-- null: they authenticate as before.
-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "token_endpoint_auth_method" TEXT,
ADD COLUMN     "tls_client_auth_subject_dn" TEXT,
ADD COLUMN     "tls_client_auth_san_dns" TEXT,
ADD COLUMN     "tls_client_auth_san_uri" TEXT,
ADD COLUMN     "tls_client_auth_san_ip" TEXT,
ADD COLUMN     "tls_client_auth_san_email" TEXT;
