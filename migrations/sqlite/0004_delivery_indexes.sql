-- Cheaper bookkeeping for large fan-outs.
--
-- Only pending deliveries are indexed for claiming (a sent row leaves the index instead of moving
-- within it, and the index stays as small as the work left); failed ones have a small index of
-- their own for `podbrief deliveries --failed`.
DROP INDEX deliveries_status;
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX deliveries_failed ON deliveries (occurrence, id) WHERE status = 'failed';

-- Delivered insights are stored in their primary key alone (one b-tree, not a table and an
-- index): three rows per brief sent.
CREATE TABLE delivered_insights_by_key (
    subscription_id  INTEGER NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    insight_id       INTEGER NOT NULL REFERENCES insights(id) ON DELETE CASCADE,
    PRIMARY KEY (subscription_id, insight_id)
) WITHOUT ROWID;
-- (Rows whose subscription or insight no longer exists, which foreign keys switched off could
-- have left, are not carried over: they could never be read.)
INSERT INTO delivered_insights_by_key (subscription_id, insight_id)
    SELECT d.subscription_id, d.insight_id FROM delivered_insights d
    WHERE EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = d.subscription_id)
      AND EXISTS (SELECT 1 FROM insights i WHERE i.id = d.insight_id);
DROP TABLE delivered_insights;
ALTER TABLE delivered_insights_by_key RENAME TO delivered_insights;
