-- TEST-ONLY stand-in for what a Supabase project provides: pg_net's net.http_post and the
-- dashboard's supabase_functions.http_request. It behaves as the documentation says:
-- http_post only queues the request in a table, inside the caller's transaction, so
-- nothing exists to send before COMMIT and nothing at all after ROLLBACK. The "worker"
-- (net._worker_run, PL/Python) takes queued requests off the table before sending them,
-- once, without retry, and notes each outcome in net._http_response. The real worker is a
-- background process; the stand-in's runs in a session named like it (tests/supabase/
-- support.py PG_NET_WORKER_NAME), which is how pg_stat_activity shows it running.
CREATE EXTENSION IF NOT EXISTS plpython3u;

CREATE SCHEMA net;

CREATE TABLE net.http_request_queue (
    id                   bigserial PRIMARY KEY,
    method               text NOT NULL,
    url                  text NOT NULL,
    headers              jsonb NOT NULL,
    body                 bytea,
    timeout_milliseconds integer NOT NULL
);

CREATE TABLE net._http_response (
    id          bigint PRIMARY KEY,
    status_code integer,
    content     text,
    error_msg   text,
    created     timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION net.http_post(
    url text,
    body jsonb DEFAULT '{}'::jsonb,
    params jsonb DEFAULT '{}'::jsonb,
    headers jsonb DEFAULT '{"Content-Type": "application/json"}'::jsonb,
    timeout_milliseconds integer DEFAULT 5000
) RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    request_id bigint;
BEGIN
    IF params IS DISTINCT FROM '{}'::jsonb THEN
        RAISE EXCEPTION 'stand-in: query parameters are not supported';
    END IF;
    INSERT INTO net.http_request_queue (method, url, headers, body, timeout_milliseconds)
    VALUES ('POST', url, headers, convert_to(body::text, 'UTF8'), timeout_milliseconds)
    RETURNING id INTO request_id;
    RETURN request_id;
END
$$;

-- Send everything committed so far; returns how many requests were sent.
CREATE FUNCTION net._worker_run() RETURNS integer
LANGUAGE plpython3u
AS $$
import json
import urllib.error
import urllib.request

taken = plpy.execute(
    "DELETE FROM net.http_request_queue WHERE id IN "
    "(SELECT id FROM net.http_request_queue FOR UPDATE SKIP LOCKED) RETURNING *"
)
# No proxy from the server's environment may sit between the database and the receiver.
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
note = plpy.prepare(
    "INSERT INTO net._http_response (id, status_code, content, error_msg) "
    "VALUES ($1, $2, $3, $4)",
    ["bigint", "integer", "text", "text"],
)
for row in sorted(taken, key=lambda r: r["id"]):
    headers = json.loads(row["headers"])
    headers.setdefault("User-Agent", "pg_net/stand-in")
    request = urllib.request.Request(
        row["url"], data=bytes(row["body"]), headers=headers, method=row["method"]
    )
    status, content, error = None, None, None
    try:
        with opener.open(request, timeout=row["timeout_milliseconds"] / 1000) as response:
            status, content = response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        status, content = exc.code, exc.read().decode("utf-8", "replace")
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    plpy.execute(note, [row["id"], status, content, error])
return len(taken)
$$;

-- The dashboard's webhook function, as documented: url, method, headers, params, timeout
-- come from the trigger's arguments; POST sends {old_record, record, type, table, schema}.
CREATE SCHEMA supabase_functions;

CREATE TABLE supabase_functions.hooks (
    id            bigserial PRIMARY KEY,
    hook_table_id integer NOT NULL,
    hook_name     text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    request_id    bigint
);

CREATE FUNCTION supabase_functions.http_request() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    request_id bigint;
    url text := TG_ARGV[0];
    method text := TG_ARGV[1];
    headers jsonb := coalesce(nullif(TG_ARGV[2], 'null'), '{"Content-Type": "application/json"}')::jsonb;
    params jsonb := coalesce(nullif(TG_ARGV[3], 'null'), '{}')::jsonb;
    timeout_ms integer := coalesce(nullif(TG_ARGV[4], 'null'), '1000')::integer;
BEGIN
    IF method <> 'POST' THEN
        RAISE EXCEPTION 'stand-in: only POST webhooks are supported';
    END IF;
    request_id := net.http_post(
        url,
        jsonb_build_object(
            'old_record', OLD,
            'record', NEW,
            'type', TG_OP,
            'table', TG_TABLE_NAME,
            'schema', TG_TABLE_SCHEMA
        ),
        params,
        headers,
        timeout_ms
    );
    INSERT INTO supabase_functions.hooks (hook_table_id, hook_name, request_id)
    VALUES (TG_RELID, TG_NAME, request_id);
    RETURN NEW;
END
$$;
