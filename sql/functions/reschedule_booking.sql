-- Moves an existing booking to [p_start, p_end) after the same policy checks as book() (the
-- caller checked who may do it). A room that requires approval needs it again. Refusals as in
-- book(); a conflict meets booking_no_overlap (23P01) and leaves the booking untouched.
CREATE OR REPLACE FUNCTION reschedule_booking(
    p_booking uuid, p_actor uuid, p_start timestamptz, p_end timestamptz
) RETURNS bookings
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_now timestamptz := now();
    v_new_status text;
    old bookings;
    b bookings;
BEGIN
    SELECT * INTO old FROM bookings WHERE id = p_booking FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'NBNFD', CONSTRAINT = 'booking', MESSAGE = 'No such booking.';
    END IF;
    IF old.status NOT IN ('pending', 'confirmed') OR lower(old.during) <= v_now THEN
        RAISE EXCEPTION USING ERRCODE = 'NBTRN', CONSTRAINT = old.status,
            MESSAGE = 'Only a pending or confirmed booking that has not started can be rescheduled.';
    END IF;
    SELECT p.new_status INTO v_new_status
    FROM booking_check_policy(old.room_id, p_start, p_end, old.attendees, v_now) AS p;
    UPDATE bookings
    SET during = tstzrange(p_start, p_end, '[)'), status = v_new_status,
        sequence = sequence + 1, updated_at = v_now
    WHERE id = p_booking
    RETURNING * INTO b;
    INSERT INTO booking_history (booking_id, actor_id, from_status, to_status, during, reason, at)
    VALUES (b.id, p_actor, old.status, b.status, b.during,
            'rescheduled from [' || rfc3339_utc(lower(old.during)) || ', '
                || rfc3339_utc(upper(old.during)) || ')',
            v_now);
    INSERT INTO outbox (topic, booking_id, created_at) VALUES ('booking.rescheduled', b.id, v_now);
    RETURN b;
END
$$;
