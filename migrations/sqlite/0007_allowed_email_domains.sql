-- The e-mail domains a tenant admits (delivery.md §13): lower-case IDNA (punycode) names,
-- `*.` for a domain with its subdomains, separated by commas; empty admits any address.
ALTER TABLE tenants ADD COLUMN allowed_email_domains TEXT NOT NULL DEFAULT '';
