-- Cheaper bookkeeping for large fan-outs: only pending deliveries are indexed for claiming (a
-- sent row leaves the index instead of moving within it, and the index stays as small as the
-- work left); failed ones have a small index of their own for `podbrief deliveries --failed`.
DROP INDEX deliveries_status;
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX deliveries_failed ON deliveries (occurrence, id) WHERE status = 'failed';
