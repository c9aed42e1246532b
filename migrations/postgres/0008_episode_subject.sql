-- What an episode is about, read from all its words when it is processed: its most frequent
-- distinctive words (search-index stems) with their counts, as `stem:count` separated by spaces.
-- "More like this" compares episodes by it. Empty for episodes processed before, and for
-- episodes of imported insights; `podbrief reextract` fills it.
ALTER TABLE episodes ADD COLUMN subject TEXT NOT NULL DEFAULT '';
