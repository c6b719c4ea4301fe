-- The one expansion of a room's weekly windows into absolute time: for each local day from
-- p_first to p_last (callers start a day early, so a window crossing midnight into their range is
-- included) and each availability rule valid on that day, [day + start, day + end) in the
-- institution's timezone p_tz, with end <= start meaning "into the next day". A DST day is 23 or
-- 25 hours long; a window wholly inside a skipped DST hour comes out with lo >= hi, which every
-- caller drops. Used by room_open_time (free time), room_is_open (the booking transaction) and the
-- catalogue search. LANGUAGE sql, STABLE, not STRICT, one SELECT: Postgres inlines it into each
-- caller's query, so the search pays no per-room function call.
CREATE OR REPLACE FUNCTION room_windows(p_room uuid, p_tz text, p_first date, p_last date)
RETURNS TABLE (lo timestamptz, hi timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT (g.day + ar.start_time) AT TIME ZONE p_tz,
           (g.day + ar.end_time
              + CASE WHEN ar.end_time <= ar.start_time THEN interval '1 day'
                     ELSE interval '0' END) AT TIME ZONE p_tz
    FROM availability_rules ar,
         LATERAL (SELECT d::date AS day
                  FROM generate_series(p_first::timestamp, p_last::timestamp, interval '1 day') AS d
                 ) AS g
    WHERE ar.room_id = p_room
      AND extract(isodow FROM g.day)::smallint = ANY (ar.days)
      AND (ar.valid_from IS NULL OR g.day >= ar.valid_from)
      AND (ar.valid_until IS NULL OR g.day <= ar.valid_until)
$$;
