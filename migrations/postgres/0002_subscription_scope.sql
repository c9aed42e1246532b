-- The server a chat belongs to (a Discord guild), so leaving a server pauses its subscriptions.
ALTER TABLE subscriptions ADD COLUMN scope_id TEXT;
CREATE INDEX subscriptions_scope ON subscriptions (platform, scope_id);
