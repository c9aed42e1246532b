-- Due subscriptions are read a page at a time in (next_run_at, id) order. With next_run_at alone
-- indexed, every page of a fan-out whose subscriptions share one time sorted all of them by id
-- again; this index hands out each page in order, and only active subscriptions are in it.
DROP INDEX subscriptions_next_run_at;
CREATE INDEX subscriptions_due ON subscriptions (next_run_at, id) WHERE paused_reason IS NULL;
