-- The open hours of a room within a window (the definition of free time): its weekly windows
-- (room_windows) intersected with the window, minus closures and, when the room or institution
-- closes on them, public holidays (holiday_ranges). A deactivated room, an unknown room and an
-- unbounded window have no open time. Bookings are not subtracted here: see room_free_time.
CREATE OR REPLACE FUNCTION room_open_time(p_room uuid, p_window tstzrange) RETURNS tstzmultirange
LANGUAGE sql STABLE AS $$
    WITH r AS (
        SELECT i.timezone AS tz, (rm.closed_on_holidays OR i.closed_on_holidays) AS holiday_closed,
               (lower(p_window) AT TIME ZONE i.timezone)::date - 1 AS first_day,
               (upper(p_window) AT TIME ZONE i.timezone)::date AS last_day
        FROM rooms rm JOIN institutions i ON i.id = rm.institution_id
        WHERE rm.id = p_room AND rm.active
          AND NOT lower_inf(p_window) AND NOT upper_inf(p_window)
    ),
    windows AS (
        SELECT tstzrange(w.lo, w.hi, '[)') AS w
        FROM r, room_windows(p_room, r.tz, r.first_day, r.last_day) AS w
        WHERE w.lo < w.hi
    ),
    shut AS (
        SELECT c.during AS s FROM closures c WHERE c.room_id = p_room AND c.during && p_window
        UNION ALL
        SELECT h.during FROM r, holiday_ranges(r.tz, r.first_day, r.last_day) AS h
        WHERE r.holiday_closed
    )
    SELECT (coalesce((SELECT range_agg(w) FROM windows), '{}'::tstzmultirange)
            * tstzmultirange(p_window))
           - coalesce((SELECT range_agg(s) FROM shut), '{}'::tstzmultirange)
$$;
