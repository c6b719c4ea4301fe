-- Open data, both ways (issue 16): every published room comes in, usage goes out.

-- A capacity the publisher did not give is unknown (NULL): such rooms are found by searches
-- without a size filter and listed for their managers to complete.
ALTER TABLE rooms ALTER COLUMN capacity DROP NOT NULL;

-- Outdoor fields and courts are rooms of their own kinds.
ALTER TABLE rooms DROP CONSTRAINT rooms_kind_valid;
ALTER TABLE rooms ADD CONSTRAINT rooms_kind_valid CHECK (kind IN
    ('meeting_room', 'lecture_room', 'multipurpose_room', 'hall', 'gym', 'sports_field', 'court',
     'other'));

-- Accessibility features, one vocabulary (the lift was called "elevator" before).
UPDATE rooms SET accessibility = array_replace(accessibility, 'elevator', 'lift')
WHERE 'elevator' = ANY (accessibility);
ALTER TABLE rooms ADD CONSTRAINT rooms_accessibility_valid CHECK (accessibility <@ ARRAY[
    'step_free', 'lift', 'accessible_toilet', 'accessible_parking', 'hearing_loop', 'braille'
]::text[]);
CREATE INDEX rooms_accessibility ON rooms USING gin (accessibility) WHERE active;

-- Monthly usage per room, computed by the usage job (workers) and read by GET /open/v1/usage.
-- `month` is the first day of the month in the institution's local time; `complete` is false
-- while the month is not over there (the figures are then "so far", as of `computed_at`).
CREATE TABLE room_usage_monthly (
    room_id         uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    month           date NOT NULL,
    open_hours      numeric(10, 2) NOT NULL,
    booked_hours    numeric(10, 2) NOT NULL,
    bookings        integer NOT NULL,
    cancellations   integer NOT NULL,
    no_shows        integer NOT NULL,
    complete        boolean NOT NULL,
    computed_at     timestamptz NOT NULL,
    CONSTRAINT room_usage_monthly_pkey PRIMARY KEY (month, room_id),
    CONSTRAINT room_usage_monthly_first_day CHECK (extract(day FROM month) = 1),
    CONSTRAINT room_usage_monthly_nonnegative CHECK (
        open_hours >= 0 AND booked_hours >= 0 AND bookings >= 0 AND cancellations >= 0
        AND no_shows >= 0)
);
