-- The price quote of booking room p_room for [p_start, p_end) (the rule: booking_fee_of.sql),
-- used by the booking reads and the 409 alternatives.
CREATE OR REPLACE FUNCTION booking_fee(p_room uuid, p_start timestamptz, p_end timestamptz)
RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
    rm rooms;
BEGIN
    SELECT * INTO rm FROM rooms WHERE id = p_room;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN booking_fee_of(rm, p_start, p_end);
END
$$;
