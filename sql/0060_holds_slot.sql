-- One definition of "holds a slot": a booking that is pending, confirmed or checked in keeps its
-- room's range from everyone else. It lives here, as a generated column, and nowhere else: the
-- exclusion constraint, the partial indexes and every query say `holds_slot`.
ALTER TABLE bookings
    ADD COLUMN holds_slot boolean NOT NULL
        GENERATED ALWAYS AS (status IN ('pending', 'confirmed', 'checked_in')) STORED;

-- Invariant 1: no two slot-holding bookings of one room overlap. Back-to-back is fine ([)).
ALTER TABLE bookings DROP CONSTRAINT booking_no_overlap;
ALTER TABLE bookings ADD CONSTRAINT booking_no_overlap
    EXCLUDE USING gist (room_id WITH =, during WITH &&) WHERE (holds_slot);

-- book()'s per-citizen active limit counts the citizen's slot-holding bookings of one room.
DROP INDEX bookings_citizen_room_holding;
CREATE INDEX bookings_citizen_room_holding ON bookings (citizen_id, room_id) WHERE holds_slot;

-- Databases migrated before sql/0051 was folded away may still have the old outbox trigger.
DROP TRIGGER IF EXISTS outbox_notify ON outbox;
DROP FUNCTION IF EXISTS outbox_notify();
