-- room_open_time(p_room, p_during) @> p_during as a yes/no answer for the booking transaction,
-- built from the same parts (room_windows, holiday_ranges, closures) without building the
-- multirange of a whole window (room_open_in.sql, once the room is read). PL/pgSQL, so its plans
-- are cached per session; room_open_time, a SQL function, is planned again in every transaction
-- that calls it. tests/reservations/test_open_check.py holds both (and the catalogue search) to
-- the same answers.
CREATE OR REPLACE FUNCTION room_is_open(p_room uuid, p_during tstzrange) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_tz text;
    v_holiday_closed boolean;
BEGIN
    IF p_during IS NULL OR isempty(p_during) OR lower_inf(p_during) OR upper_inf(p_during) THEN
        -- Not something a booking can be; answer exactly as the general definition does.
        RETURN room_open_time(p_room, p_during) @> p_during;
    END IF;
    SELECT i.timezone, (rm.closed_on_holidays OR i.closed_on_holidays)
    INTO v_tz, v_holiday_closed
    FROM rooms rm JOIN institutions i ON i.id = rm.institution_id
    WHERE rm.id = p_room AND rm.active;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    RETURN room_open_in(p_room, v_tz, v_holiday_closed, p_during);
END
$$;
