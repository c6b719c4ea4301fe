-- Fair allocation of contested rooms (issue 13): lottery rounds, waitlists with offers, monthly
-- caps and no-show strikes. Functions and triggers live in sql/functions/ (allocation_*,
-- waitlist_*, strike_*, citizen_*).

-- An offer is a slot-holding booking in status `offered`. PG15 cannot alter a generated
-- column's expression: drop holds_slot (CASCADE drops booking_no_overlap and the partial index
-- built on it) and re-add it, still the one definition of "holds a slot".
ALTER TABLE bookings DROP CONSTRAINT bookings_status_valid;
ALTER TABLE bookings ADD CONSTRAINT bookings_status_valid CHECK (status IN
    ('pending', 'confirmed', 'rejected', 'cancelled', 'checked_in', 'no_show', 'completed',
     'offered'));
ALTER TABLE bookings DROP COLUMN holds_slot CASCADE;
ALTER TABLE bookings
    ADD COLUMN holds_slot boolean NOT NULL
        GENERATED ALWAYS AS (status IN ('pending', 'confirmed', 'checked_in', 'offered')) STORED;
-- Invariant 1: no two slot-holding bookings of one room overlap. Back-to-back is fine ([)).
ALTER TABLE bookings ADD CONSTRAINT booking_no_overlap
    EXCLUDE USING gist (room_id WITH =, during WITH &&) WHERE (holds_slot);
CREATE INDEX bookings_citizen_room_holding ON bookings (citizen_id, room_id) WHERE holds_slot;

-- Allocation policy of a room and an institution. NULL caps mean "no cap".
ALTER TABLE rooms
    ADD COLUMN allocation_mode text NOT NULL DEFAULT 'first_come',
    ADD COLUMN monthly_cap_per_citizen integer,
    ADD COLUMN late_cancel_hours integer DEFAULT 24,
    ADD CONSTRAINT rooms_allocation_mode_valid CHECK (allocation_mode IN ('first_come', 'lottery')),
    ADD CONSTRAINT rooms_monthly_cap_positive CHECK (monthly_cap_per_citizen > 0),
    ADD CONSTRAINT rooms_late_cancel_hours_range CHECK (late_cancel_hours BETWEEN 0 AND 720);
ALTER TABLE institutions
    ADD COLUMN monthly_cap_per_citizen integer,
    ADD CONSTRAINT institutions_monthly_cap_positive CHECK (monthly_cap_per_citizen > 0);

-- A lottery round. The seed is secret until the draw; its SHA-256 (the commitment) is public
-- from publication. sql/functions/allocation_round_guard.sql makes the seed, salt, slots and
-- period immutable once the round is published.
CREATE TABLE allocation_rounds (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    room_id                uuid NOT NULL REFERENCES rooms (id),
    title                  text NOT NULL,
    opens_at               timestamptz NOT NULL,
    closes_at              timestamptz NOT NULL,
    draw_at                timestamptz NOT NULL,
    max_applications_per_citizen integer NOT NULL DEFAULT 3,
    institution_monthly_win_cap  integer,
    public_value_required  boolean NOT NULL DEFAULT false,
    algorithm              text NOT NULL DEFAULT 'nanum-draw-v1',
    seed                   bytea NOT NULL,
    seed_commitment        bytea NOT NULL,
    pseudonym_salt         bytea NOT NULL,
    public_value           text,
    published_at           timestamptz,
    frozen_at              timestamptz,
    list_hash              bytea,
    drawn_at               timestamptz,
    created_by             uuid REFERENCES users (id),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT allocation_rounds_title_present CHECK (btrim(title) <> '' AND char_length(title) <= 200),
    CONSTRAINT allocation_rounds_period_order CHECK (opens_at < closes_at AND closes_at <= draw_at),
    CONSTRAINT allocation_rounds_max_applications CHECK (max_applications_per_citizen BETWEEN 1 AND 100),
    CONSTRAINT allocation_rounds_win_cap_positive CHECK (institution_monthly_win_cap > 0),
    CONSTRAINT allocation_rounds_algorithm_known CHECK (algorithm = 'nanum-draw-v1'),
    CONSTRAINT allocation_rounds_seed_length CHECK (octet_length(seed) = 32),
    CONSTRAINT allocation_rounds_commitment_matches CHECK (seed_commitment = sha256(seed)),
    CONSTRAINT allocation_rounds_salt_length CHECK (octet_length(pseudonym_salt) = 32),
    CONSTRAINT allocation_rounds_public_value_length CHECK (char_length(public_value) BETWEEN 1 AND 200),
    CONSTRAINT allocation_rounds_frozen_has_hash CHECK ((frozen_at IS NULL) = (list_hash IS NULL)),
    CONSTRAINT allocation_rounds_drawn_after_frozen CHECK (drawn_at IS NULL OR frozen_at IS NOT NULL),
    CONSTRAINT allocation_rounds_published_before_frozen CHECK (frozen_at IS NULL OR published_at IS NOT NULL)
);
CREATE INDEX allocation_rounds_room ON allocation_rounds (room_id, opens_at);
CREATE INDEX allocation_rounds_due ON allocation_rounds (draw_at)
    WHERE published_at IS NOT NULL AND drawn_at IS NULL;

-- The slots of a round, numbered by start (position 1 is the earliest): the draw's order.
CREATE TABLE allocation_slots (
    id        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    round_id  uuid NOT NULL REFERENCES allocation_rounds (id) ON DELETE CASCADE,
    room_id   uuid NOT NULL REFERENCES rooms (id),
    position  integer NOT NULL,
    during    tstzrange NOT NULL,
    CONSTRAINT allocation_slots_position_key UNIQUE (round_id, position),
    CONSTRAINT allocation_slots_position_positive CHECK (position > 0),
    CONSTRAINT allocation_slots_half_open CHECK (NOT isempty(during) AND lower_inc(during)
        AND NOT upper_inc(during) AND NOT lower_inf(during) AND NOT upper_inf(during)),
    CONSTRAINT allocation_slots_no_overlap EXCLUDE USING gist (round_id WITH =, during WITH &&)
);
CREATE INDEX allocation_slots_room_during ON allocation_slots USING gist (room_id, during);

-- One application of one citizen for one slot. `pseudonym` = HMAC-SHA256(round salt, citizen
-- id): the same for all of a citizen's applications in a round (the draw needs that to give
-- them at most one slot), unlinkable across rounds and to the person.
CREATE TABLE allocation_applications (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    round_id      uuid NOT NULL REFERENCES allocation_rounds (id) ON DELETE CASCADE,
    slot_id       uuid NOT NULL REFERENCES allocation_slots (id) ON DELETE CASCADE,
    citizen_id    uuid NOT NULL REFERENCES users (id),
    pseudonym     text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    withdrawn_at  timestamptz,
    CONSTRAINT allocation_applications_pseudonym_hex CHECK (pseudonym ~ '^[0-9a-f]{64}$')
);
CREATE UNIQUE INDEX allocation_applications_one_per_slot
    ON allocation_applications (slot_id, citizen_id) WHERE withdrawn_at IS NULL;
CREATE INDEX allocation_applications_round_citizen
    ON allocation_applications (round_id, citizen_id) WHERE withdrawn_at IS NULL;

-- The published result: one row per (slot, applicant) in draw order. Unique rows make a second
-- draw of the same round impossible.
CREATE TABLE allocation_results (
    round_id    uuid NOT NULL REFERENCES allocation_rounds (id) ON DELETE CASCADE,
    slot_id     uuid NOT NULL REFERENCES allocation_slots (id) ON DELETE CASCADE,
    rank        integer NOT NULL,
    pseudonym   text NOT NULL,
    citizen_id  uuid NOT NULL REFERENCES users (id),
    outcome     text NOT NULL,
    booking_id  uuid REFERENCES bookings (id),
    CONSTRAINT allocation_results_pkey PRIMARY KEY (slot_id, rank),
    CONSTRAINT allocation_results_once UNIQUE (slot_id, pseudonym),
    CONSTRAINT allocation_results_outcome_valid CHECK (outcome IN
        ('won', 'waitlisted', 'won_elsewhere', 'ineligible', 'slot_taken'))
);
CREATE INDEX allocation_results_round ON allocation_results (round_id, citizen_id);

-- Application entries not eligible at the draw (monthly cap reached, suspended): published.
CREATE TABLE allocation_ineligible (
    round_id   uuid NOT NULL REFERENCES allocation_rounds (id) ON DELETE CASCADE,
    slot_id    uuid NOT NULL REFERENCES allocation_slots (id) ON DELETE CASCADE,
    pseudonym  text NOT NULL,
    reason     text NOT NULL,
    CONSTRAINT allocation_ineligible_pkey PRIMARY KEY (slot_id, pseudonym)
);

-- Waitlists: a citizen waits for an exact range of a room. When a slot-holding booking stops
-- holding (cancel, reject, no-show, expired or declined offer, reschedule) a trigger records a
-- wakeup; the offer job turns it into at most one offer per free range, in queue order (id).
CREATE TABLE waitlist_entries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id          uuid NOT NULL REFERENCES rooms (id),
    during           tstzrange NOT NULL,
    citizen_id       uuid NOT NULL REFERENCES users (id),
    round_id         uuid REFERENCES allocation_rounds (id) ON DELETE SET NULL,
    status           text NOT NULL DEFAULT 'waiting',
    offer_booking_id uuid REFERENCES bookings (id),
    offer_expires_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT waitlist_entries_status_valid CHECK (status IN
        ('waiting', 'offered', 'accepted', 'declined', 'expired', 'left', 'skipped')),
    CONSTRAINT waitlist_entries_offer_complete CHECK (status <> 'offered'
        OR (offer_expires_at IS NOT NULL AND offer_booking_id IS NOT NULL)),
    CONSTRAINT waitlist_entries_half_open CHECK (NOT isempty(during) AND lower_inc(during)
        AND NOT upper_inc(during))
);
CREATE UNIQUE INDEX waitlist_entries_one_live
    ON waitlist_entries (room_id, during, citizen_id) WHERE status IN ('waiting', 'offered');
CREATE INDEX waitlist_entries_waiting ON waitlist_entries USING gist (room_id, during)
    WHERE status = 'waiting';
CREATE INDEX waitlist_entries_offers_due ON waitlist_entries (offer_expires_at)
    WHERE status = 'offered';
CREATE UNIQUE INDEX waitlist_entries_offer_booking ON waitlist_entries (offer_booking_id)
    WHERE offer_booking_id IS NOT NULL;

CREATE TABLE waitlist_wakeups (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id   uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    during    tstzrange NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX waitlist_wakeups_room ON waitlist_wakeups (room_id, id);

-- Strikes: a no-show weighs 1, a late cancellation by the citizen 0.5; they count for 90 days
-- unless forgiven. Suspension is derived from them (citizen_suspended_until()).
CREATE TABLE strikes (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    citizen_id      uuid NOT NULL REFERENCES users (id),
    institution_id  uuid NOT NULL REFERENCES institutions (id),
    booking_id      uuid REFERENCES bookings (id) ON DELETE SET NULL,
    kind            text NOT NULL,
    weight          numeric(2, 1) NOT NULL,
    at              timestamptz NOT NULL DEFAULT now(),
    forgiven_at     timestamptz,
    forgiven_by     uuid REFERENCES users (id),
    forgiven_reason text,
    CONSTRAINT strikes_kind_valid CHECK (kind IN ('no_show', 'late_cancel')),
    CONSTRAINT strikes_weight_valid CHECK (weight IN (0.5, 1.0)),
    CONSTRAINT strikes_forgiven_complete CHECK ((forgiven_at IS NULL) = (forgiven_reason IS NULL)),
    CONSTRAINT strikes_forgiven_reason_length CHECK (char_length(forgiven_reason) BETWEEN 1 AND 500)
);
CREATE UNIQUE INDEX strikes_one_per_booking ON strikes (booking_id, kind) WHERE booking_id IS NOT NULL;
CREATE INDEX strikes_citizen_at ON strikes (citizen_id, at);
