-- Due subscriptions are read a page at a time in (next_run_at, id) order; only active ones are
-- in this index (the same index as PostgreSQL's, where next_run_at alone made every page sort all
-- subscriptions due at one time).
DROP INDEX subscriptions_next_run_at;
CREATE INDEX subscriptions_due ON subscriptions (next_run_at, id) WHERE paused_reason IS NULL;
