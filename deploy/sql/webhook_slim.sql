-- failwatch: the slim webhook, for tables whose rows can be large.
--
-- CONTAINS THE WEBHOOK SECRET (Postgres keeps trigger arguments in plain text). Do not
-- commit this output or paste it into a ticket.
--
-- A row trigger that sends whole rows sends whole prompts and parameters, and pg_net bodies
-- over 64 KiB can hang. This variant posts the usual webhook envelope with a trimmed record:
-- id, status, model_id, user_id, session_id, created_at, updated_at and, of `parameters`,
-- only `error` and `errorContext` (without its stack trace). failwatch accepts both shapes
-- and derives the same idempotency key from either, so the sweep never counts one twice.
-- Needs only the pg_net extension. Re-running replaces the triggers and removes the
-- full variant's, so only one is active.

DO $$
BEGIN
  IF to_regprocedure('net.http_post(text, jsonb, jsonb, jsonb, integer)') IS NULL THEN
    RAISE EXCEPTION 'net.http_post() is missing'
      USING HINT = 'Enable the pg_net extension (Database, Extensions) first.';
  END IF;
END
$$;

-- Arguments: url, headers (a JSON object), timeout in milliseconds.
-- SECURITY DEFINER: the trigger fires as whichever role wrote the row; the owner (postgres)
-- is the one that may call pg_net. The empty search_path keeps that privilege from being
-- borrowed by objects in other schemas.
CREATE OR REPLACE FUNCTION public.failwatch_webhook_slim()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $function$
DECLARE
  new_row jsonb;
  parameters jsonb;
  error_context jsonb;
  old_row jsonb;
BEGIN
  -- to_jsonb(NEW) rather than NEW.column: a column this table lacks becomes null instead of
  -- an error, and values are serialised exactly as the dashboard's webhook does.
  new_row := to_jsonb(NEW);
  parameters := new_row->'parameters';
  IF jsonb_typeof(parameters) = 'string' THEN
    -- a text column holding JSON
    BEGIN
      parameters := (parameters #>> '{}')::jsonb;
    EXCEPTION WHEN invalid_text_representation THEN
      parameters := NULL;
    END;
  END IF;
  IF jsonb_typeof(parameters) IS DISTINCT FROM 'object' THEN
    parameters := '{}'::jsonb;
  END IF;
  error_context := parameters->'errorContext';
  IF jsonb_typeof(error_context) = 'object' THEN
    error_context := error_context - 'stack';
  END IF;
  IF TG_OP = 'UPDATE' THEN
    old_row := jsonb_build_object('id', to_jsonb(OLD)->'id', 'status', to_jsonb(OLD)->'status');
  END IF;

  PERFORM net.http_post(
    url := TG_ARGV[0],
    body := jsonb_build_object(
      'type', TG_OP,
      'table', TG_TABLE_NAME,
      'schema', TG_TABLE_SCHEMA,
      'record', jsonb_build_object(
        'id', new_row->'id',
        'status', new_row->'status',
        'model_id', new_row->'model_id',
        'user_id', new_row->'user_id',
        'session_id', new_row->'session_id',
        'created_at', new_row->'created_at',
        'updated_at', new_row->'updated_at',
        'parameters', jsonb_build_object(
          'error', parameters->'error',
          'errorContext', error_context
        )
      ),
      'old_record', old_row
    ),
    params := '{}'::jsonb,
    headers := TG_ARGV[1]::jsonb,
    timeout_milliseconds := TG_ARGV[2]::integer
  );
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  -- Alerting must never break the app's own write. The row is committed as failed either
  -- way, and failwatch's sweep finds failed rows that no webhook announced.
  RAISE WARNING 'failwatch: webhook not queued (%); the sweep will pick the failure up', SQLERRM;
  RETURN NULL;
END
$function$;

-- A trigger function cannot be called directly anyway; say so in the grants too.
REVOKE ALL ON FUNCTION public.failwatch_webhook_slim() FROM PUBLIC;

DROP TRIGGER IF EXISTS failwatch_failed_insert ON public.generations;
DROP TRIGGER IF EXISTS failwatch_failed_update ON public.generations;

CREATE TRIGGER failwatch_failed_insert
  AFTER INSERT ON public.generations
  FOR EACH ROW
  WHEN (NEW.status = 'failed')
  EXECUTE FUNCTION public.failwatch_webhook_slim({{url}}, {{headers}}, {{timeout_ms}});

CREATE TRIGGER failwatch_failed_update
  AFTER UPDATE OF status ON public.generations
  FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM 'failed' AND NEW.status = 'failed')
  EXECUTE FUNCTION public.failwatch_webhook_slim({{url}}, {{headers}}, {{timeout_ms}});
