-- Use of each room per month (issue 12, the managers' Use page), precomputed by the worker's
-- room-use job and on demand for a month not yet computed, so the page reads 12 rows per room.
-- `month` is the first day of the month in the institution's local time. by_weekday (Mon..Sun)
-- and by_hour (0..23) count bookings by their local start.
CREATE TABLE room_use_monthly (
    room_id        uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    month          date NOT NULL,
    open_hours     numeric(10, 2) NOT NULL,
    booked_hours   numeric(10, 2) NOT NULL,
    bookings       integer NOT NULL,
    cancellations  integer NOT NULL,
    no_shows       integer NOT NULL,
    by_weekday     integer[] NOT NULL,
    by_hour        integer[] NOT NULL,
    complete       boolean NOT NULL,
    computed_at    timestamptz NOT NULL,
    CONSTRAINT room_use_monthly_pkey PRIMARY KEY (room_id, month),
    CONSTRAINT room_use_monthly_first_day CHECK (extract(day FROM month) = 1),
    CONSTRAINT room_use_monthly_shape CHECK (
        cardinality(by_weekday) = 7 AND cardinality(by_hour) = 24)
);
