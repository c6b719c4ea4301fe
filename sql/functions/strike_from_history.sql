-- Strikes are written by the status change itself (its booking_history row), whoever makes it:
-- a no-show weighs 1; a cancellation by the citizen themself less than the room's
-- late_cancel_hours before the start weighs 0.5 (NULL hours: late cancellations are free).
CREATE OR REPLACE FUNCTION strike_from_history() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    b record;
BEGIN
    SELECT bk.citizen_id, bk.during, rm.institution_id, rm.late_cancel_hours INTO b
    FROM bookings bk JOIN rooms rm ON rm.id = bk.room_id WHERE bk.id = NEW.booking_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF NEW.to_status = 'no_show' THEN
        INSERT INTO strikes (citizen_id, institution_id, booking_id, kind, weight, at)
        VALUES (b.citizen_id, b.institution_id, NEW.booking_id, 'no_show', 1.0, NEW.at)
        ON CONFLICT (booking_id, kind) WHERE booking_id IS NOT NULL DO NOTHING;
    ELSIF NEW.to_status = 'cancelled' AND NEW.from_status IN ('pending', 'confirmed')
          AND NEW.actor_id = b.citizen_id AND b.late_cancel_hours IS NOT NULL
          AND lower(b.during) - NEW.at < make_interval(hours => b.late_cancel_hours) THEN
        INSERT INTO strikes (citizen_id, institution_id, booking_id, kind, weight, at)
        VALUES (b.citizen_id, b.institution_id, NEW.booking_id, 'late_cancel', 0.5, NEW.at)
        ON CONFLICT (booking_id, kind) WHERE booking_id IS NOT NULL DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER booking_history_strike
    AFTER INSERT ON booking_history
    FOR EACH ROW
    WHEN (NEW.to_status IN ('no_show', 'cancelled'))
    EXECUTE FUNCTION strike_from_history();
