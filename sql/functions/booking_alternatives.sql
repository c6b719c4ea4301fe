-- Up to p_limit free ranges of the same length as [p_start, p_end) in the same room, aligned to
-- its slots in local time, within lead time and horizon, nearest to p_start first. Looks three
-- hours either side first, then a day, then a week (this runs on every conflict): the candidates
-- of a reach are exactly those starting within it of p_start, so when a narrower reach finds
-- enough of them they are the nearest ones.
CREATE OR REPLACE FUNCTION booking_alternatives(
    p_room uuid, p_start timestamptz, p_end timestamptz, p_limit integer
) RETURNS TABLE (alt_start timestamptz, alt_end timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r record;
    v_now timestamptz := now();
    v_duration interval := p_end - p_start;
    v_slot interval;
    v_reach interval;
    v_starts timestamptz[];
BEGIN
    SELECT rm.slot_minutes, rm.lead_minutes, rm.horizon_days, i.timezone INTO r
    FROM rooms rm JOIN institutions i ON i.id = rm.institution_id WHERE rm.id = p_room;
    IF NOT FOUND OR p_end <= p_start OR p_limit <= 0 THEN
        RETURN;
    END IF;
    v_slot := make_interval(mins => r.slot_minutes);
    FOREACH v_reach IN ARRAY ARRAY[interval '3 hours', interval '1 day', interval '7 days'] LOOP
        WITH win AS (
            SELECT greatest(p_start - v_reach, v_now + make_interval(mins => r.lead_minutes)) AS lo,
                   least(p_end + v_reach,
                         v_now + make_interval(days => r.horizon_days) + v_duration) AS hi
        ),
        free_ranges AS (
            SELECT f AS fr
            FROM win, unnest(room_free_time(p_room, tstzrange(win.lo, win.hi, '[)'))) AS f
            WHERE win.lo < win.hi
        ),
        candidates AS (
            SELECT (g AT TIME ZONE r.timezone) AS c
            FROM free_ranges,
                 LATERAL (SELECT lower(free_ranges.fr) AT TIME ZONE r.timezone AS lo_local,
                                 (upper(free_ranges.fr) - v_duration) AT TIME ZONE r.timezone
                                     AS hi_local) l,
                 generate_series(
                     date_trunc('day', l.lo_local)
                       + ceil(extract(epoch FROM l.lo_local - date_trunc('day', l.lo_local))
                              / extract(epoch FROM v_slot)) * v_slot,
                     l.hi_local, v_slot) AS g
        ),
        nearest AS (
            SELECT c FROM candidates
            WHERE c <= v_now + make_interval(days => r.horizon_days)
            ORDER BY abs(extract(epoch FROM c - p_start)), c
            LIMIT p_limit
        )
        SELECT coalesce(array_agg(c ORDER BY abs(extract(epoch FROM c - p_start)), c), '{}')
        INTO v_starts FROM nearest;
        EXIT WHEN cardinality(v_starts) >= p_limit;
    END LOOP;
    RETURN QUERY SELECT s, s + v_duration FROM unnest(v_starts) AS s;
END
$$;
