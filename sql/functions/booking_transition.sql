-- A status change with its history row, iCal sequence bump and outbox event; refused with
-- SQLSTATE NBTRN (CONSTRAINT = the current status) unless the booking is in one of p_from.
CREATE OR REPLACE FUNCTION booking_transition(
    p_booking uuid, p_to text, p_from text[], p_actor uuid, p_reason text, p_topic text
) RETURNS bookings
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_now timestamptz := now();
    old_status text;
    b bookings;
BEGIN
    SELECT status INTO old_status FROM bookings WHERE id = p_booking FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'NBNFD', CONSTRAINT = 'booking', MESSAGE = 'No such booking.';
    END IF;
    IF NOT old_status = ANY (p_from) THEN
        RAISE EXCEPTION USING ERRCODE = 'NBTRN', CONSTRAINT = old_status,
            MESSAGE = format('A %s booking cannot become %s.', old_status, p_to);
    END IF;
    UPDATE bookings SET status = p_to, sequence = sequence + 1, updated_at = v_now
    WHERE id = p_booking
    RETURNING * INTO b;
    INSERT INTO booking_history (booking_id, actor_id, from_status, to_status, during, reason, at)
    VALUES (b.id, p_actor, old_status, p_to, b.during, coalesce(p_reason, ''), v_now);
    IF p_topic IS NOT NULL THEN
        INSERT INTO outbox (topic, booking_id, created_at) VALUES (p_topic, b.id, v_now);
    END IF;
    RETURN b;
END
$$;
