-- failwatch: the Database Webhook, as the Supabase dashboard would create it.
--
-- CONTAINS THE WEBHOOK SECRET (Postgres keeps trigger arguments in plain text, as the
-- dashboard does). Do not commit this output or paste it into a ticket.
--
-- Two triggers send only the transitions into `failed`, so completed, queued and processing
-- updates never leave the database: an INSERT that is already failed, and an UPDATE of
-- status from anything else to failed. Rows are sent whole by supabase_functions.http_request
-- (pg_net, after commit, once, never retried; failwatch's sweep recovers what is lost).
-- Re-running replaces the triggers; it also removes the slim variant's, so only one is active.

DO $$
BEGIN
  IF to_regprocedure('supabase_functions.http_request()') IS NULL THEN
    RAISE EXCEPTION 'supabase_functions.http_request() is missing'
      USING HINT = 'Enable Database Webhooks in the dashboard (Integrations), or use the slim variant.';
  END IF;
END
$$;

DROP TRIGGER IF EXISTS failwatch_failed_insert ON public.generations;
DROP TRIGGER IF EXISTS failwatch_failed_update ON public.generations;

CREATE TRIGGER failwatch_failed_insert
  AFTER INSERT ON public.generations
  FOR EACH ROW
  WHEN (NEW.status = 'failed')
  EXECUTE FUNCTION supabase_functions.http_request(
    {{url}}, 'POST', {{headers}}, '{}', {{timeout_ms}}
  );

-- OF status: the trigger is not even considered for updates that do not set the column.
CREATE TRIGGER failwatch_failed_update
  AFTER UPDATE OF status ON public.generations
  FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM 'failed' AND NEW.status = 'failed')
  EXECUTE FUNCTION supabase_functions.http_request(
    {{url}}, 'POST', {{headers}}, '{}', {{timeout_ms}}
  );
