"""The guide's own SQL, copied verbatim; the API's answers are compared with these.

Only the guide's placeholders are filled in (`INTERVAL '24 hours'` by other windows,
`'YOUR_USER_ID_HERE'` by a bound parameter) and trailing spaces dropped.
"""

from __future__ import annotations

Q1_FAILED_24H = """
SELECT
  g.id,
  g.user_id,
  g.model_id,
  g.prompt,
  g.status,
  g.created_at,
  g.parameters->>'error' as error_message,
  g.parameters->'errorContext' as error_context,
  p.display_name as user_display_name,
  p.username,
  s.name as session_name,
  pr.name as project_name
FROM generations g
LEFT JOIN profiles p ON g.user_id = p.id
LEFT JOIN sessions s ON g.session_id = s.id
LEFT JOIN projects pr ON s.project_id = pr.id
WHERE g.status = 'failed'
  AND g.created_at >= NOW() - INTERVAL '24 hours'
ORDER BY g.created_at DESC;
"""

Q2_FAILED_BY_USER = """
SELECT
  g.id,
  g.user_id,
  g.model_id,
  g.prompt,
  g.parameters->>'error' as error_message,
  g.created_at,
  p.display_name as user_display_name,
  p.username
FROM generations g
LEFT JOIN profiles p ON g.user_id = p.id
WHERE g.status = 'failed'
  AND g.user_id = 'YOUR_USER_ID_HERE'  -- Replace with actual user ID
ORDER BY g.created_at DESC
LIMIT 50;
"""

Q3_STUCK = """
SELECT
  g.id,
  g.user_id,
  g.model_id,
  g.prompt,
  g.status,
  g.created_at,
  EXTRACT(EPOCH FROM (NOW() - g.created_at))/60 as age_minutes,
  p.display_name as user_display_name,
  p.username
FROM generations g
LEFT JOIN profiles p ON g.user_id = p.id
WHERE g.status = 'processing'
  AND g.created_at < NOW() - INTERVAL '10 minutes'
ORDER BY g.created_at ASC;
"""

Q4_COUNT_BY_MODEL_7D = """
SELECT
  model_id,
  COUNT(*) as failure_count,
  COUNT(DISTINCT user_id) as affected_users
FROM generations
WHERE status = 'failed'
  AND created_at >= NOW() - INTERVAL '7 days'
GROUP BY model_id
ORDER BY failure_count DESC;
"""

Q5_ERROR_TYPES = """
SELECT
  g.id,
  g.user_id,
  g.model_id,
  g.parameters->'errorContext'->>'type' as error_type,
  g.parameters->>'error' as error_message,
  g.created_at,
  p.display_name as user_display_name
FROM generations g
LEFT JOIN profiles p ON g.user_id = p.id
WHERE g.status = 'failed'
  AND g.parameters->'errorContext'->>'type' IS NOT NULL
ORDER BY g.created_at DESC
LIMIT 100;
"""

Q7_EMAILS_24H = """
SELECT
  g.id as generation_id,
  g.user_id,
  g.parameters->>'error' as error_message,
  g.created_at,
  au.email as user_email
FROM generations g
LEFT JOIN auth.users au ON g.user_id = au.id::text
WHERE g.status = 'failed'
  AND g.created_at >= NOW() - INTERVAL '24 hours'
ORDER BY g.created_at DESC;
"""

VIEW_FAILED_GENERATIONS = """
CREATE OR REPLACE VIEW failed_generations_view AS
SELECT
  g.id,
  g.user_id,
  g.model_id,
  g.prompt,
  g.status,
  g.created_at,
  g.parameters->>'error' as error_message,
  g.parameters->'errorContext'->>'type' as error_type,
  p.display_name as user_display_name,
  p.username,
  s.name as session_name,
  pr.name as project_name
FROM generations g
LEFT JOIN profiles p ON g.user_id = p.id
LEFT JOIN sessions s ON g.session_id = s.id
LEFT JOIN projects pr ON s.project_id = pr.id
WHERE g.status = 'failed';
"""

FUNCTION_GET_FAILURE_STATS = """
CREATE OR REPLACE FUNCTION get_failure_stats(hours_back INTEGER DEFAULT 24)
RETURNS TABLE (
  model_id TEXT,
  failure_count BIGINT,
  affected_users BIGINT,
  latest_failure TIMESTAMP
) AS $$
BEGIN
  RETURN QUERY
  SELECT
    g.model_id,
    COUNT(*) as failure_count,
    COUNT(DISTINCT g.user_id) as affected_users,
    MAX(g.created_at) as latest_failure
  FROM generations g
  WHERE g.status = 'failed'
    AND g.created_at >= NOW() - (hours_back || ' hours')::INTERVAL
  GROUP BY g.model_id
  ORDER BY failure_count DESC;
END;
$$ LANGUAGE plpgsql;
"""

RATE_LIMIT_ERRORS = """
SELECT
  g.id,
  g.user_id,
  g.model_id,
  g.parameters->>'error' as error_message,
  g.created_at,
  p.display_name as user_display_name
FROM generations g
LEFT JOIN profiles p ON g.user_id = p.id
WHERE g.status = 'failed'
  AND (
    g.parameters->>'error' ILIKE '%rate limit%'
    OR g.parameters->>'error' ILIKE '%429%'
    OR g.parameters->'errorContext'->>'type' = 'RateLimitError'
  )
ORDER BY g.created_at DESC;
"""


# As printed, the function cannot run against Supabase's `created_at timestamptz`: RETURN
# QUERY demands the declared `TIMESTAMP` exactly ("structure of query does not match
# function result type"). The one-word repair below is the only change.
FUNCTION_GET_FAILURE_STATS_REPAIRED = FUNCTION_GET_FAILURE_STATS.replace(
    "latest_failure TIMESTAMP\n", "latest_failure TIMESTAMPTZ\n"
)
assert FUNCTION_GET_FAILURE_STATS_REPAIRED != FUNCTION_GET_FAILURE_STATS


def within(query: str, hours: int) -> str:
    """A 24-hour query of the guide, with another window."""
    assert "INTERVAL '24 hours'" in query
    return query.replace("INTERVAL '24 hours'", f"INTERVAL '{hours} hours'")


def by_user() -> str:
    """The guide's per-user query with its placeholder as a bound parameter."""
    return Q2_FAILED_BY_USER.replace("'YOUR_USER_ID_HERE'", "%(user_id)s")
