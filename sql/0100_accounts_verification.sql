-- Accounts: verified e-mail addresses and single-use e-mail tokens (verification, password reset).

-- When the owner proved they read this address (the verification link, or a password reset).
-- Accounts made by `python -m booking users create` and by the demo data are verified at once.
-- Accounts that existed before verification did are taken as verified (they signed up under
-- the old rules and may have bookings); every account registered from now on starts unverified.
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;
UPDATE users SET email_verified_at = created_at WHERE email_verified_at IS NULL;

-- A token sent by e-mail. Only its SHA-256 is stored; the token itself is derived from the
-- server's secret and the outbox row that sends it (booking/accounts/tokens.py), so it is in
-- no table, log or job argument. Single use: `used_at` is set in the statement that checks it.
CREATE TABLE account_tokens (
    token_hash  bytea NOT NULL,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    CONSTRAINT account_tokens_pkey PRIMARY KEY (token_hash),
    CONSTRAINT account_tokens_purpose_valid CHECK (purpose IN ('verify', 'reset')),
    CONSTRAINT account_tokens_hash_length CHECK (octet_length(token_hash) = 32),
    CONSTRAINT account_tokens_expiry_after_creation CHECK (expires_at > created_at)
);
CREATE INDEX account_tokens_user ON account_tokens (user_id, purpose);

-- Account mail goes through the outbox like booking notices: `booking_id` is NULL and the
-- payload names the user (topics account.verify, account.exists, account.reset).
CREATE INDEX outbox_account_user ON outbox ((payload ->> 'user_id'), topic, created_at)
    WHERE booking_id IS NULL AND topic LIKE 'account.%';
