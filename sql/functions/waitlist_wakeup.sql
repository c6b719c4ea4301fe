-- A slot-holding booking that stops holding (cancelled, rejected, no-show, offer declined or
-- expired) or moves away frees its old range: if someone waits for a range overlapping it,
-- record a wakeup in the same transaction. The offer job (waitlist_offer_room()) turns wakeups
-- into offers, so a freed slot is never forgotten and its offer is made exactly once.
CREATE OR REPLACE FUNCTION waitlist_wakeup() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM waitlist_entries w
               WHERE w.room_id = OLD.room_id AND w.during && OLD.during AND w.status = 'waiting') THEN
        INSERT INTO waitlist_wakeups (room_id, during) VALUES (OLD.room_id, OLD.during);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER bookings_waitlist_wakeup
    AFTER UPDATE ON bookings
    FOR EACH ROW
    WHEN (OLD.holds_slot AND (NOT NEW.holds_slot OR NEW.during <> OLD.during))
    EXECUTE FUNCTION waitlist_wakeup();
