-- The monthly use of rooms — the one definition behind the open usage figures (GET
-- /open/v1/usage) and the managers' Use page: for each (room, first day of a month in the
-- institution's local time), [that day 00:00, the next month's first day 00:00) local:
-- open hours (room_open_time: windows minus closures and holidays), booked hours (bookings not
-- cancelled or rejected — no-shows included — clipped to the month), and of the bookings
-- starting in the month: bookings (not cancelled or rejected), cancellations, no-shows, and
-- bookings by local weekday (Mon..Sun) and start hour (0..23); and the room's lottery slots
-- starting in the month with the applications for them. `complete` once the month is over
-- at p_now. Upserts room_usage_monthly; answers how many rows it wrote.
CREATE OR REPLACE FUNCTION refresh_room_usage(p_rooms uuid[], p_months date[], p_now timestamptz)
RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_rows integer;
BEGIN
    WITH m AS (
        SELECT r.id AS room_id, i.timezone AS tz,
               (mo.month)::timestamp AT TIME ZONE i.timezone AS lo,
               (mo.month + interval '1 month')::timestamp AT TIME ZONE i.timezone AS hi,
               mo.month
        FROM unnest(p_rooms, p_months) AS mo(room_id, month)
        JOIN rooms r ON r.id = mo.room_id JOIN institutions i ON i.id = r.institution_id
    ),
    b AS (
        SELECT m.room_id, m.month, bk.status,
               extract(epoch FROM least(upper(bk.during), m.hi)
                                  - greatest(lower(bk.during), m.lo)) / 3600 AS hours,
               lower(bk.during) >= m.lo AS starts_here,
               (lower(bk.during) AT TIME ZONE m.tz) AS local_start
        FROM m JOIN bookings bk
          ON bk.room_id = m.room_id AND bk.during && tstzrange(m.lo, m.hi, '[)')
    ),
    used AS (
        SELECT room_id, month,
               coalesce(sum(hours) FILTER (WHERE status NOT IN ('cancelled', 'rejected')), 0)
                   AS booked_hours,
               count(*) FILTER (WHERE starts_here AND status NOT IN ('cancelled', 'rejected'))
                   AS bookings,
               count(*) FILTER (WHERE starts_here AND status = 'cancelled') AS cancellations,
               count(*) FILTER (WHERE starts_here AND status = 'no_show') AS no_shows
        FROM b GROUP BY room_id, month
    ),
    counted AS (
        SELECT room_id, month, extract(isodow FROM local_start)::int AS weekday,
               extract(hour FROM local_start)::int AS hour, count(*)::int AS n
        FROM b WHERE starts_here AND status NOT IN ('cancelled', 'rejected')
        GROUP BY 1, 2, 3, 4
    ),
    weekdays AS (
        SELECT m.room_id, m.month, array_agg(coalesce(c.n, 0) ORDER BY d.d) AS by_weekday
        FROM m CROSS JOIN generate_series(1, 7) AS d(d)
        LEFT JOIN (SELECT room_id, month, weekday, sum(n)::int AS n FROM counted
                   GROUP BY 1, 2, 3) c
          ON c.room_id = m.room_id AND c.month = m.month AND c.weekday = d.d
        GROUP BY m.room_id, m.month
    ),
    hours AS (
        SELECT m.room_id, m.month, array_agg(coalesce(c.n, 0) ORDER BY h.h) AS by_hour
        FROM m CROSS JOIN generate_series(0, 23) AS h(h)
        LEFT JOIN (SELECT room_id, month, hour, sum(n)::int AS n FROM counted
                   GROUP BY 1, 2, 3) c
          ON c.room_id = m.room_id AND c.month = m.month AND c.hour = h.h
        GROUP BY m.room_id, m.month
    ),
    lottery AS (
        SELECT m.room_id, m.month, count(DISTINCT s.id)::int AS slots,
               count(a.id) FILTER (WHERE a.withdrawn_at IS NULL)::int AS applications
        FROM m
        JOIN allocation_slots s
          ON s.room_id = m.room_id AND lower(s.during) >= m.lo AND lower(s.during) < m.hi
        LEFT JOIN allocation_applications a ON a.slot_id = s.id
        GROUP BY m.room_id, m.month
    )
    INSERT INTO room_usage_monthly AS u (room_id, month, open_hours, booked_hours, bookings,
                                       cancellations, no_shows, lottery_slots,
                                       lottery_applications, by_weekday, by_hour, complete,
                                       computed_at)
    SELECT m.room_id, m.month,
           coalesce((SELECT sum(extract(epoch FROM upper(o) - lower(o)))
                     FROM unnest(room_open_time(m.room_id, tstzrange(m.lo, m.hi, '[)'))) o), 0)
               / 3600,
           coalesce(used.booked_hours, 0), coalesce(used.bookings, 0),
           coalesce(used.cancellations, 0), coalesce(used.no_shows, 0),
           coalesce(lottery.slots, 0), coalesce(lottery.applications, 0),
           weekdays.by_weekday, hours.by_hour, p_now >= m.hi, p_now
    FROM m
    LEFT JOIN used ON used.room_id = m.room_id AND used.month = m.month
    JOIN weekdays ON weekdays.room_id = m.room_id AND weekdays.month = m.month
    JOIN hours ON hours.room_id = m.room_id AND hours.month = m.month
    LEFT JOIN lottery ON lottery.room_id = m.room_id AND lottery.month = m.month
    ON CONFLICT (month, room_id) DO UPDATE
    SET open_hours = EXCLUDED.open_hours, booked_hours = EXCLUDED.booked_hours,
        bookings = EXCLUDED.bookings, cancellations = EXCLUDED.cancellations,
        no_shows = EXCLUDED.no_shows, lottery_slots = EXCLUDED.lottery_slots,
        lottery_applications = EXCLUDED.lottery_applications, by_weekday = EXCLUDED.by_weekday,
        by_hour = EXCLUDED.by_hour, complete = EXCLUDED.complete,
        computed_at = EXCLUDED.computed_at;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$$;
