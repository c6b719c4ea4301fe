-- room_open_time(p_room, p_during) @> p_during as a yes/no answer for the booking transaction,
-- built from the same parts (room_windows, holiday_ranges, closures) without building the
-- multirange of a whole window. PL/pgSQL, so its plans are cached per session; room_open_time, a
-- SQL function, is planned again in every transaction that calls it. tests/reservations/
-- test_open_check.py holds both (and the catalogue search) to the same answers.
CREATE OR REPLACE FUNCTION room_is_open(p_room uuid, p_during tstzrange) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_tz text;
    v_holiday_closed boolean;
    v_first date;
    v_last date;
    v_covered boolean;
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
    IF EXISTS (SELECT 1 FROM closures c WHERE c.room_id = p_room AND c.during && p_during) THEN
        RETURN false;
    END IF;
    v_first := (lower(p_during) AT TIME ZONE v_tz)::date - 1;
    v_last := (upper(p_during) AT TIME ZONE v_tz)::date;
    IF v_holiday_closed AND EXISTS (
        SELECT 1 FROM holiday_ranges(v_tz, v_first, v_last) h WHERE h.during && p_during
    ) THEN
        RETURN false;
    END IF;
    SELECT coalesce(range_agg(tstzrange(w.lo, w.hi, '[)')), '{}'::tstzmultirange) @> p_during
    INTO v_covered
    FROM room_windows(p_room, v_tz, v_first, v_last) AS w
    WHERE w.lo < w.hi;
    RETURN v_covered;
END
$$;
