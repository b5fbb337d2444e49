"""A `generations` table of realistic shape and size, for query plans and timings.

Rows spread evenly over 30 days; 1 % failed, 1 % processing, 1 % queued, the rest
completed; 5,000 users and 20 models. `updated_at` equals `created_at` except that every
failed row changed 1 minute after it was created.
"""

from __future__ import annotations

import psycopg

SEED = """
INSERT INTO generations (id, user_id, model_id, prompt, status, parameters, created_at,
                         updated_at)
SELECT
  'g' || i,
  'u' || (i %% 5000),
  'model-' || (i %% 20),
  repeat('a prompt of some length ', 8),
  CASE i %% 100 WHEN 0 THEN 'failed' WHEN 1 THEN 'processing' WHEN 2 THEN 'queued'
               ELSE 'completed' END,
  CASE WHEN i %% 100 = 0
       THEN jsonb_build_object('error', 'Request ' || i || ' timed out',
                               'errorContext', jsonb_build_object('type', 'TimeoutError'))
       ELSE '{}'::jsonb END,
  now() - make_interval(secs => i * (30 * 86400.0 / %(rows)s)),
  now() - make_interval(secs => i * (30 * 86400.0 / %(rows)s))
        + CASE WHEN i %% 100 = 0 THEN interval '1 minute' ELSE interval '0' END
FROM generate_series(1, %(rows)s) AS i
"""


def seed_large_table(dsn: str, *, rows: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SEED, {"rows": rows})
        conn.execute("ANALYZE generations")
