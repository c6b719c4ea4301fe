-- Whether an active room is open for the whole of p_during (finite, not empty), given its
-- institution's timezone and whether it closes on public holidays: no closure overlaps it, no
-- public holiday does when the room closes on them, and its weekly windows cover it. One query
-- (a booking pays for one statement here); room_is_open() reads the room and calls it, and so
-- does booking_policy_status() with the room book() already read.
CREATE OR REPLACE FUNCTION room_open_in(
    p_room uuid, p_tz text, p_holiday_closed boolean, p_during tstzrange
) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    -- Windows may start the day before (crossing midnight) and end on the last day.
    v_first date := (lower(p_during) AT TIME ZONE p_tz)::date - 1;
    v_last date := (upper(p_during) AT TIME ZONE p_tz)::date;
BEGIN
    RETURN (
        SELECT NOT EXISTS (SELECT 1 FROM closures c WHERE c.room_id = p_room AND c.during && p_during)
           AND NOT (p_holiday_closed AND EXISTS (
                   SELECT 1 FROM holiday_ranges(p_tz, v_first, v_last) h WHERE h.during && p_during))
           AND coalesce((SELECT range_agg(tstzrange(w.lo, w.hi, '[)'))
                         FROM room_windows(p_room, p_tz, v_first, v_last) AS w
                         WHERE w.lo < w.hi), '{}'::tstzmultirange) @> p_during
    );
END
$$;
