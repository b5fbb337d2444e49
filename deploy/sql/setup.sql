-- failwatch: setup for the Supabase database that holds `generations`.
--
-- Safe to run again: every object is created or replaced, never duplicated. Run it as the
-- `postgres` role (the dashboard's SQL editor does). `failwatch db setup` runs this part in
-- one transaction, then the index file, then (optionally) the webhook.
--
-- {{reader_role}} is the read-only role failwatch connects as (FAILWATCH_DATABASE_URL).

-- 1. The guide's view of failed generations ---------------------------------------------
-- security_invoker: the view applies the row-level security of whoever queries it. Without
-- it a view runs with its owner's rights, and since Supabase grants new objects in `public`
-- to `anon` and `authenticated`, every failed prompt would be readable through the REST API.
CREATE OR REPLACE VIEW public.failed_generations_view
WITH (security_invoker = true) AS
SELECT
  g.id,
  g.user_id,
  g.model_id,
  g.prompt,
  g.status,
  g.created_at,
  g.parameters->>'error' AS error_message,
  g.parameters->'errorContext'->>'type' AS error_type,
  p.display_name AS user_display_name,
  p.username,
  s.name AS session_name,
  pr.name AS project_name
FROM public.generations g
LEFT JOIN public.profiles p ON g.user_id = p.id
LEFT JOIN public.sessions s ON g.session_id = s.id
LEFT JOIN public.projects pr ON s.project_id = pr.id
WHERE g.status = 'failed';

COMMENT ON VIEW public.failed_generations_view IS
  'Failed generations with user, session and project names (installed by failwatch).';

-- 2. The guide's failure statistics -----------------------------------------------------
-- The guide declares latest_failure as TIMESTAMP, but created_at is timestamptz in
-- Supabase: the implicit cast would silently shift every value to the session's time zone.
-- A function's result type cannot be changed in place, so a guide-made version is dropped.
DO $$
DECLARE
  existing regprocedure := to_regprocedure('public.get_failure_stats(integer)');
BEGIN
  IF pg_get_function_result(existing) NOT LIKE '%latest_failure timestamp with time zone%' THEN
    DROP FUNCTION public.get_failure_stats(integer);
  END IF;
END
$$;

-- Plain SQL (the planner sees the query), STABLE (no writes), and an empty search_path so
-- that no object in another schema can stand in for the ones named here.
CREATE OR REPLACE FUNCTION public.get_failure_stats(hours_back integer DEFAULT 24)
RETURNS TABLE (
  model_id text,
  failure_count bigint,
  affected_users bigint,
  latest_failure timestamptz
)
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
  SELECT
    g.model_id::text,
    count(*),
    count(DISTINCT g.user_id),
    max(g.created_at)::timestamptz
  FROM public.generations g
  WHERE g.status = 'failed'
    AND g.created_at >= now() - make_interval(hours => hours_back)
  GROUP BY g.model_id
  ORDER BY count(*) DESC, g.model_id;
$$;

COMMENT ON FUNCTION public.get_failure_stats(integer) IS
  'Failures per model in the last hours_back hours (installed by failwatch).';

-- Both are admin tools: the stats span every user. Supabase's default privileges grant new
-- objects in `public` to anon and authenticated explicitly, so PUBLIC alone is not enough.
REVOKE ALL ON public.failed_generations_view FROM PUBLIC;
REVOKE ALL ON FUNCTION public.get_failure_stats(integer) FROM PUBLIC;
DO $$
DECLARE
  api_role name;
BEGIN
  FOR api_role IN SELECT rolname FROM pg_roles WHERE rolname IN ('anon', 'authenticated') LOOP
    EXECUTE format('REVOKE ALL ON public.failed_generations_view FROM %I', api_role);
    EXECUTE format('REVOKE ALL ON FUNCTION public.get_failure_stats(integer) FROM %I', api_role);
  END LOOP;
END
$$;

-- 3. The read-only role for failwatch ---------------------------------------------------
-- Created without LOGIN and without a password, so this script holds no secret. Give it one
-- yourself:  ALTER ROLE {{reader_role}} WITH LOGIN PASSWORD '...';
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{{reader_role}}') THEN
    CREATE ROLE {{reader_role}} NOLOGIN;
  END IF;
END
$$;

-- Even a mistaken write through this role is refused, and a runaway query is cut short.
ALTER ROLE {{reader_role}} SET default_transaction_read_only = on;
ALTER ROLE {{reader_role}} SET statement_timeout = '10s';

GRANT USAGE ON SCHEMA public TO {{reader_role}};
GRANT SELECT ON public.generations, public.profiles, public.sessions, public.projects,
  public.failed_generations_view TO {{reader_role}};
GRANT EXECUTE ON FUNCTION public.get_failure_stats(integer) TO {{reader_role}};

-- Supabase tables usually have row-level security on; a role without a policy would read
-- zero rows (and conclude nothing failed). These policies let only this role read all rows;
-- they change nothing for anyone else, and nothing at all where RLS is off.
DO $$
DECLARE
  source_table text;
BEGIN
  FOREACH source_table IN ARRAY ARRAY['generations', 'profiles', 'sessions', 'projects'] LOOP
    EXECUTE format('DROP POLICY IF EXISTS %I ON public.%I', '{{reader_role}}_reads_all', source_table);
    EXECUTE format(
      'CREATE POLICY %I ON public.%I FOR SELECT TO {{reader_role}} USING (true)',
      '{{reader_role}}_reads_all', source_table
    );
  END LOOP;
END
$$;

-- E-mail addresses of affected users (the guide's query 7): only id and email, nothing else
-- of auth.users. Projects where `postgres` may not grant on the auth schema skip this step;
-- failwatch then asks the Auth admin API instead.
DO $$
BEGIN
  GRANT USAGE ON SCHEMA auth TO {{reader_role}};
  GRANT SELECT (id, email) ON auth.users TO {{reader_role}};
EXCEPTION
  WHEN insufficient_privilege OR undefined_table OR invalid_schema_name OR undefined_column THEN
    RAISE NOTICE 'failwatch: auth.users not granted (%); e-mails need the Auth admin API', SQLERRM;
END
$$;
