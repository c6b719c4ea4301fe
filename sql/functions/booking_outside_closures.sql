-- Invariant 2, at the moment of writing: a slot-holding booking never lies inside a closure of
-- its room, even when the closure and the booking are written at the same time. A booking's
-- write (insert, move, or becoming slot-holding) and a closure's transaction
-- (booking/catalogue/closures.py) take the same per-room advisory lock as book() does before
-- its insert (31, hashtext(room_id)); whichever comes second sees the other, committed: the
-- closure finds the booking (409, or cancels it), the booking finds the closure (refused
-- like any booking outside opening hours). booking_check_policy() / room_is_open() remain the
-- ordinary check and the friendly refusal; this trigger only closes the race.
CREATE OR REPLACE FUNCTION booking_outside_closures() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(31, hashtext(NEW.room_id::text));
    -- A new statement, so a new snapshot (READ COMMITTED): closures committed while we waited.
    IF EXISTS (SELECT 1 FROM closures c WHERE c.room_id = NEW.room_id AND c.during && NEW.during)
    THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'outside_opening_hours',
            MESSAGE = 'The room is not open for the whole range (opening hours, closures, holidays).';
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER bookings_outside_closures_insert
    AFTER INSERT ON bookings
    FOR EACH ROW WHEN (NEW.holds_slot)
    EXECUTE FUNCTION booking_outside_closures();

CREATE OR REPLACE TRIGGER bookings_outside_closures_update
    AFTER UPDATE OF during, status, room_id ON bookings
    FOR EACH ROW WHEN (NEW.holds_slot AND (NOT OLD.holds_slot OR OLD.during <> NEW.during
                                           OR OLD.room_id <> NEW.room_id))
    EXECUTE FUNCTION booking_outside_closures();
