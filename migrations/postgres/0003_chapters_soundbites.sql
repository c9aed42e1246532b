-- Episode chapters (podcast:chapters JSON, Podlove Simple Chapters) and podcast:soundbite marks,
-- as JSON arrays on the episode, and the chapter an insight was said in.
ALTER TABLE episodes ADD COLUMN chapters_url TEXT;
ALTER TABLE episodes ADD COLUMN chapters TEXT NOT NULL DEFAULT '[]';
ALTER TABLE episodes ADD COLUMN soundbites TEXT NOT NULL DEFAULT '[]';
ALTER TABLE insights ADD COLUMN chapter TEXT;
