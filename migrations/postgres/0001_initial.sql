-- podbrief schema (PostgreSQL), mirroring migrations/sqlite/0001_initial.sql.
-- Times are TIMESTAMPTZ (UTC); every integer is BIGINT, so each column reads back as the i64 the
-- SQLite backend reads (SQLite's INTEGER is 64-bit).

CREATE TABLE podcasts (
    id               BIGSERIAL PRIMARY KEY,
    feed_url         TEXT        NOT NULL UNIQUE,
    title            TEXT        NOT NULL,
    link             TEXT,
    image            TEXT,
    etag             TEXT,
    last_modified    TEXT,
    next_poll_at     TIMESTAMPTZ,
    failures         BIGINT      NOT NULL DEFAULT 0,
    disabled_reason  TEXT,
    last_error       TEXT,
    created_at       TIMESTAMPTZ NOT NULL
);

CREATE TABLE episodes (
    id               BIGSERIAL PRIMARY KEY,
    podcast_id       BIGINT      NOT NULL REFERENCES podcasts(id) ON DELETE CASCADE,
    guid             TEXT        NOT NULL,
    title            TEXT        NOT NULL,
    link             TEXT,
    audio_url        TEXT,
    published_at     TIMESTAMPTZ,
    duration_s       BIGINT,
    transcript_url   TEXT,
    transcript_kind  TEXT,
    show_notes       TEXT,
    status           TEXT        NOT NULL DEFAULT 'new',
    error            TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (podcast_id, guid)
);
CREATE INDEX episodes_published_at ON episodes (published_at);

CREATE TABLE insights (
    id            BIGSERIAL PRIMARY KEY,
    episode_id    BIGINT           NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
    text          TEXT             NOT NULL,
    quote         TEXT             NOT NULL,
    start_ms      BIGINT,
    end_ms        BIGINT,
    speaker       TEXT,
    score         DOUBLE PRECISION NOT NULL,
    topics        TEXT             NOT NULL DEFAULT '[]',
    content_hash  TEXT             NOT NULL UNIQUE,
    created_at    TIMESTAMPTZ      NOT NULL
);
CREATE INDEX insights_episode ON insights (episode_id);

CREATE TABLE subscriptions (
    id            BIGSERIAL PRIMARY KEY,
    platform      TEXT        NOT NULL,
    chat_id       TEXT        NOT NULL,
    thread_id     TEXT        NOT NULL DEFAULT '',
    schedule      TEXT        NOT NULL,
    timezone      TEXT        NOT NULL,
    size          BIGINT      NOT NULL,
    topics        TEXT        NOT NULL DEFAULT '[]',
    next_run_at   TIMESTAMPTZ NOT NULL,
    paused_reason TEXT,
    created_by    TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (platform, chat_id, thread_id)
);
CREATE INDEX subscriptions_next_run_at ON subscriptions (next_run_at);

CREATE TABLE deliveries (
    id               BIGSERIAL PRIMARY KEY,
    subscription_id  BIGINT      NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    occurrence       TIMESTAMPTZ NOT NULL,
    status           TEXT        NOT NULL DEFAULT 'pending',
    attempts         BIGINT      NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ,
    lease_until      TIMESTAMPTZ,
    message_ids      TEXT        NOT NULL DEFAULT '[]',
    error            TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    sent_at          TIMESTAMPTZ,
    UNIQUE (subscription_id, occurrence)
);
CREATE INDEX deliveries_status ON deliveries (status, next_attempt_at);

CREATE TABLE delivered_insights (
    subscription_id  BIGINT NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    insight_id       BIGINT NOT NULL REFERENCES insights(id) ON DELETE CASCADE,
    PRIMARY KEY (subscription_id, insight_id)
);
