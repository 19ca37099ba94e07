-- Every process caches verified API keys; any write to a key or an account, by any path, tells them all
-- at commit. Since 1765100000001-CredentialChanges.
CREATE OR REPLACE FUNCTION notify_credential_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('credential_changes', TG_TABLE_NAME);
  RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER api_keys_credential_change AFTER UPDATE OR DELETE OR TRUNCATE ON api_keys
  FOR EACH STATEMENT EXECUTE FUNCTION notify_credential_change();

CREATE OR REPLACE TRIGGER service_accounts_credential_change AFTER UPDATE OR DELETE OR TRUNCATE ON service_accounts
  FOR EACH STATEMENT EXECUTE FUNCTION notify_credential_change();
