-- Bookings: a citizen's claim on [start, end) of one room. Postgres, not Python, decides conflicts.
CREATE TABLE bookings (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    room_id     uuid NOT NULL REFERENCES rooms (id),
    citizen_id  uuid NOT NULL REFERENCES users (id),
    during      tstzrange NOT NULL,
    status      text NOT NULL,
    purpose     text NOT NULL DEFAULT '',
    purpose_public boolean NOT NULL DEFAULT false,
    attendees   integer NOT NULL,
    -- iCalendar SEQUENCE: bumped on every change of time or status, so calendar apps update.
    sequence    integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT bookings_status_valid CHECK (status IN
        ('pending', 'confirmed', 'rejected', 'cancelled', 'checked_in', 'no_show', 'completed')),
    CONSTRAINT bookings_during_not_empty CHECK (NOT isempty(during)),
    CONSTRAINT bookings_during_half_open CHECK (lower_inc(during) AND NOT upper_inc(during)
        AND NOT lower_inf(during) AND NOT upper_inf(during)),
    CONSTRAINT bookings_attendees_positive CHECK (attendees > 0),
    CONSTRAINT bookings_purpose_length CHECK (char_length(purpose) <= 500),
    -- Invariant 1: no two slot-holding bookings of one room overlap. Back-to-back is fine ([)).
    CONSTRAINT booking_no_overlap EXCLUDE USING gist (room_id WITH =, during WITH &&)
        WHERE (status IN ('pending', 'confirmed', 'checked_in'))
);
CREATE INDEX bookings_citizen ON bookings (citizen_id, lower(during));
CREATE INDEX bookings_room_start ON bookings (room_id, lower(during));

-- Every status change: who, when, from, to, why.
CREATE TABLE booking_history (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    booking_id   uuid NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    actor_id     uuid REFERENCES users (id),
    from_status  text,
    to_status    text NOT NULL,
    during       tstzrange NOT NULL,
    reason       text NOT NULL DEFAULT '',
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX booking_history_booking ON booking_history (booking_id, id);

-- Idempotency-Key: the first answer to (caller, key) is stored with the request's fingerprint.
CREATE TABLE idempotency_keys (
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key           text NOT NULL,
    request_hash  bytea NOT NULL,
    status_code   integer NOT NULL,
    response      bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, key),
    CONSTRAINT idempotency_keys_key_length CHECK (char_length(key) BETWEEN 1 AND 255)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Transactional outbox: written in the same transaction as the change it announces.
CREATE TABLE outbox (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic          text NOT NULL,             -- e.g. booking.created, booking.cancelled
    booking_id     uuid REFERENCES bookings (id) ON DELETE CASCADE,
    payload        jsonb NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    claimed_at     timestamptz,
    dispatched_at  timestamptz
);
CREATE INDEX outbox_undispatched ON outbox (id) WHERE dispatched_at IS NULL;
