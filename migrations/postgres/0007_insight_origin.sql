-- Which engine wrote an insight and with which prompt version: a re-extraction by another
-- engine or prompt leaves a delivered insight as it was sent. Insights stored before were
-- written by the default engine.
ALTER TABLE insights ADD COLUMN engine TEXT NOT NULL DEFAULT 'extractive';
ALTER TABLE insights ADD COLUMN prompt_version TEXT;
