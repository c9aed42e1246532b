-- podbrief schema (SQLite). migrations/postgres/ mirrors it in PostgreSQL's dialect.
-- All times are UTC, stored as RFC 3339 text by sqlx's chrono support.

CREATE TABLE podcasts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    feed_url         TEXT    NOT NULL UNIQUE,
    title            TEXT    NOT NULL,
    link             TEXT,
    image            TEXT,
    etag             TEXT,
    last_modified    TEXT,
    next_poll_at     TEXT,
    failures         INTEGER NOT NULL DEFAULT 0,
    disabled_reason  TEXT,
    last_error       TEXT,
    created_at       TEXT    NOT NULL
);

CREATE TABLE episodes (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    podcast_id       INTEGER NOT NULL REFERENCES podcasts(id) ON DELETE CASCADE,
    guid             TEXT    NOT NULL,
    title            TEXT    NOT NULL,
    link             TEXT,
    audio_url        TEXT,
    published_at     TEXT,
    duration_s       INTEGER,
    transcript_url   TEXT,
    transcript_kind  TEXT,
    show_notes       TEXT,
    status           TEXT    NOT NULL DEFAULT 'new',
    error            TEXT,
    created_at       TEXT    NOT NULL,
    UNIQUE (podcast_id, guid)
);
CREATE INDEX episodes_published_at ON episodes (published_at);

CREATE TABLE insights (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    episode_id    INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
    text          TEXT    NOT NULL,
    quote         TEXT    NOT NULL,
    start_ms      INTEGER,
    end_ms        INTEGER,
    speaker       TEXT,
    score         REAL    NOT NULL,
    topics        TEXT    NOT NULL DEFAULT '[]',
    content_hash  TEXT    NOT NULL UNIQUE,
    created_at    TEXT    NOT NULL
);
CREATE INDEX insights_episode ON insights (episode_id);

CREATE TABLE subscriptions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    platform      TEXT    NOT NULL,
    chat_id       TEXT    NOT NULL,
    thread_id     TEXT    NOT NULL DEFAULT '',
    schedule      TEXT    NOT NULL,
    timezone      TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    topics        TEXT    NOT NULL DEFAULT '[]',
    next_run_at   TEXT    NOT NULL,
    paused_reason TEXT,
    created_by    TEXT,
    created_at    TEXT    NOT NULL,
    UNIQUE (platform, chat_id, thread_id)
);
CREATE INDEX subscriptions_next_run_at ON subscriptions (next_run_at);

CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id  INTEGER NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    occurrence       TEXT    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'pending',
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT,
    lease_until      TEXT,
    message_ids      TEXT    NOT NULL DEFAULT '[]',
    error            TEXT,
    created_at       TEXT    NOT NULL,
    sent_at          TEXT,
    UNIQUE (subscription_id, occurrence)
);
CREATE INDEX deliveries_status ON deliveries (status, next_attempt_at);

CREATE TABLE delivered_insights (
    subscription_id  INTEGER NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    insight_id       INTEGER NOT NULL REFERENCES insights(id) ON DELETE CASCADE,
    PRIMARY KEY (subscription_id, insight_id)
);
