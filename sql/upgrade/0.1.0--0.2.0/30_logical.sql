-- Part 30: cache invalidation on logical replication subscribers.  The apply
-- worker fires row triggers only (ENABLE REPLICA or ALWAYS ones), never the
-- INSERT/UPDATE/DELETE statement triggers that invalidate every backend's
-- caches; these row triggers do it there (see sql/install/10, 20 and 40).
CREATE TRIGGER clients_invalidate_caches_replica
  AFTER INSERT OR UPDATE OR DELETE ON oauth_rls.clients
  FOR EACH ROW EXECUTE FUNCTION oauth_rls._invalidate_caches();
ALTER TABLE oauth_rls.clients ENABLE REPLICA TRIGGER clients_invalidate_caches_replica;

CREATE TRIGGER access_matrix_invalidate_caches_replica
  AFTER INSERT OR UPDATE OR DELETE ON oauth_rls.access_matrix
  FOR EACH ROW EXECUTE FUNCTION oauth_rls._invalidate_caches();
ALTER TABLE oauth_rls.access_matrix ENABLE REPLICA TRIGGER access_matrix_invalidate_caches_replica;

CREATE TRIGGER api_keys_invalidate_caches_replica
  AFTER INSERT OR UPDATE OR DELETE ON oauth_rls.api_keys
  FOR EACH ROW EXECUTE FUNCTION oauth_rls._invalidate_caches('last_used_at');
ALTER TABLE oauth_rls.api_keys ENABLE REPLICA TRIGGER api_keys_invalidate_caches_replica;
