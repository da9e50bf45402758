-- Canonical text dump of everything extension oauth_rls owns, for comparing
-- a fresh install with an updated one (psql -At; one line per fact, sorted,
-- no oids).  Covers members and their definitions, columns, defaults,
-- constraints, indexes, triggers, policies, RLS flags, enum labels, ACLs,
-- comments, event triggers, parameter ACLs, the extension's version and its
-- config tables.
WITH members AS (
  SELECT d.classid, d.objid, pg_describe_object(d.classid, d.objid, 0) AS what
  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
  WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND e.extname = 'oauth_rls'
),
acl(what, item) AS (
  SELECT m.what, a.privilege_type || ' to ' || coalesce(r.rolname, 'PUBLIC') || CASE WHEN a.is_grantable THEN ' with grant' ELSE '' END
  FROM members m
  JOIN LATERAL (
    SELECT p.proacl AS acl FROM pg_proc p WHERE m.classid = 'pg_proc'::regclass AND p.oid = m.objid
    UNION ALL SELECT c.relacl FROM pg_class c WHERE m.classid = 'pg_class'::regclass AND c.oid = m.objid
    UNION ALL SELECT t.typacl FROM pg_type t WHERE m.classid = 'pg_type'::regclass AND t.oid = m.objid
  ) o ON o.acl IS NOT NULL
  CROSS JOIN LATERAL aclexplode(o.acl) a
  LEFT JOIN pg_roles r ON r.oid = a.grantee
),
facts(line) AS (
  SELECT 'extension version ' || extversion || ' relocatable ' || extrelocatable
         || ' schema ' || extnamespace::regnamespace
         || ' config ' || coalesce((SELECT string_agg(c::regclass::text, ',' ORDER BY c::regclass::text) FROM unnest(extconfig) c), '')
         || ' conditions ' || coalesce(array_to_string(extcondition, ','), '')
  FROM pg_extension WHERE extname = 'oauth_rls'
  UNION ALL SELECT 'member ' || what FROM members
  UNION ALL SELECT 'comment ' || m.what || ': ' || obj_description(m.objid, c.relname::name)
    FROM members m JOIN pg_class c ON c.oid = m.classid WHERE obj_description(m.objid, c.relname::name) IS NOT NULL
  UNION ALL SELECT 'acl ' || what || ': ' || item FROM acl
  UNION ALL SELECT 'function ' || m.what || E':\n' || pg_get_functiondef(m.objid)
    FROM members m JOIN pg_proc p ON p.oid = m.objid
    WHERE m.classid = 'pg_proc'::regclass AND p.prokind IN ('f', 'p', 'w')
  UNION ALL SELECT 'column ' || m.what || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
         || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
         || coalesce(' collate ' || (SELECT collname FROM pg_collation WHERE oid = a.attcollation AND a.attcollation <> 100), '')
         || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
         || ' #' || (row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum))
    FROM members m JOIN pg_attribute a ON a.attrelid = m.objid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    WHERE m.classid = 'pg_class'::regclass
  UNION ALL SELECT 'relation ' || m.what || ' kind ' || c.relkind::text || ' rls ' || c.relrowsecurity || ' force ' || c.relforcerowsecurity
         || ' persistence ' || c.relpersistence::text || ' owner-is-extowner ' || (c.relowner = (SELECT extowner FROM pg_extension WHERE extname = 'oauth_rls'))
    FROM members m JOIN pg_class c ON c.oid = m.objid WHERE m.classid = 'pg_class'::regclass
  UNION ALL SELECT 'constraint ' || m.what || ' ' || co.conname || ' ' || pg_get_constraintdef(co.oid)
    FROM members m JOIN pg_constraint co ON co.conrelid = m.objid WHERE m.classid = 'pg_class'::regclass
  UNION ALL SELECT 'index ' || pg_get_indexdef(i.indexrelid)
    FROM members m JOIN pg_index i ON i.indrelid = m.objid WHERE m.classid = 'pg_class'::regclass
  UNION ALL SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled ' || t.tgenabled::text
    FROM members m JOIN pg_trigger t ON t.tgrelid = m.objid AND NOT t.tgisinternal WHERE m.classid = 'pg_class'::regclass
  UNION ALL SELECT 'policy ' || p.schemaname || '.' || p.tablename || ' ' || p.policyname || ' ' || p.permissive || ' '
         || p.roles::text || ' ' || p.cmd || ' using ' || coalesce(p.qual, '') || ' check ' || coalesce(p.with_check, '')
    FROM pg_policies p WHERE p.schemaname = 'oauth_rls'
  UNION ALL SELECT 'enum ' || m.what || ' ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
    FROM members m JOIN pg_enum e ON e.enumtypid = m.objid WHERE m.classid = 'pg_type'::regclass GROUP BY m.what
  UNION ALL SELECT 'schema-owner ' || n.nspname || ' '
         || CASE WHEN n.nspowner = (SELECT extowner FROM pg_extension WHERE extname = 'oauth_rls') THEN 'extowner'
                 WHEN n.nspowner = 10 THEN 'bootstrap-superuser' ELSE 'other' END
    FROM pg_namespace n WHERE n.nspname = 'oauth_rls'
  UNION ALL SELECT 'schema-acl ' || coalesce(r.rolname, 'PUBLIC') || ' ' || a.privilege_type
    FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
    WHERE n.nspname = 'oauth_rls'
  UNION ALL SELECT 'event-trigger ' || m.what || ' on ' || ev.evtevent || ' enabled ' || ev.evtenabled::text
         || ' function ' || ev.evtfoid::regproc::text || ' tags ' || coalesce(ev.evttags::text, '')
    FROM members m JOIN pg_event_trigger ev ON ev.oid = m.objid WHERE m.classid = 'pg_event_trigger'::regclass
  -- GRANT SET ON PARAMETER (PostgreSQL 15+): not members, but made by the install.
  UNION ALL SELECT 'parameter-acl ' || pa.parname || ': ' || a.privilege_type || ' to '
         || CASE WHEN a.grantee = (SELECT extowner FROM pg_extension WHERE extname = 'oauth_rls') THEN 'extowner'
                 ELSE coalesce(r.rolname, 'PUBLIC') END
    FROM pg_parameter_acl pa CROSS JOIN LATERAL aclexplode(pa.paracl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
    WHERE pa.parname LIKE 'oauth\_rls.%'
)
SELECT line FROM facts ORDER BY line;
