-- Accounts: citizens, facility managers and admins.
CREATE TABLE users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email           text NOT NULL,
    password_hash   text NOT NULL,
    name            text NOT NULL,
    phone           text,
    role            text NOT NULL DEFAULT 'citizen',
    disabled_at     timestamptz,
    deleted_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_role_valid CHECK (role IN ('citizen', 'manager', 'admin')),
    CONSTRAINT users_email_normalised CHECK (email = lower(btrim(email)) AND email <> ''),
    CONSTRAINT users_name_present CHECK (btrim(name) <> '')
);
-- Named so the error map can turn a duplicate into a response that does not reveal the email.
CREATE UNIQUE INDEX users_email_key ON users (email);
