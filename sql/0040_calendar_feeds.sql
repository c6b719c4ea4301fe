-- Calendar feeds: private feed tokens and a per-room change counter for cheap conditional GETs.

-- A private feed URL carries a token derived as HMAC(secret_key, nonce); only the nonce and the
-- token's sha256 are stored, so a database leak alone reveals no working URL. One active token per
-- user; rotation revokes it and inserts a new one in the same transaction.
CREATE TABLE calendar_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    nonce       bytea NOT NULL,
    token_hash  bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CONSTRAINT calendar_tokens_nonce_length CHECK (octet_length(nonce) >= 16),
    CONSTRAINT calendar_tokens_hash_length CHECK (octet_length(token_hash) = 32),
    CONSTRAINT calendar_tokens_revoked_after_created CHECK (revoked_at IS NULL OR revoked_at >= created_at)
);
CREATE UNIQUE INDEX calendar_tokens_token_hash_key ON calendar_tokens (token_hash);
CREATE UNIQUE INDEX calendar_tokens_one_active_per_user ON calendar_tokens (user_id) WHERE revoked_at IS NULL;

-- A per-room change counter, bumped by the trigger in sql/functions/bump_room_feed_version.sql.
CREATE TABLE room_feed_versions (
    room_id     uuid PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
    version     bigint NOT NULL DEFAULT 0,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT room_feed_versions_version_nonnegative CHECK (version >= 0)
);
