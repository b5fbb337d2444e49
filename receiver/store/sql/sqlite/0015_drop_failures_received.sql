-- failures_recent (0014) starts with received_at, so it serves every range scan that
-- failures_received (0008) served — the pruner's oldest failures, the silence preview's
-- last 24 h — and each failure insert need not keep both up to date.
DROP INDEX IF EXISTS failures_received;
