-- Catalogue search: indexes for the filters of GET /v1/rooms and GET /v1/institutions, and
-- room_open_time that knows about deactivated rooms.

-- `q` matches room and institution names with ILIKE '%q%' (Korean included): trigram indexes.
CREATE INDEX rooms_name_trgm ON rooms USING gin (name gin_trgm_ops);
CREATE INDEX institutions_name_trgm ON institutions USING gin (name gin_trgm_ops);
-- `near`: a bounding-box prefilter on plain coordinates, then haversine (no PostGIS needed).
CREATE INDEX institutions_coordinates ON institutions (latitude, longitude)
    WHERE latitude IS NOT NULL;
-- Keyset pagination of the institution list.
CREATE INDEX institutions_name_id ON institutions (name, id);
-- Search lists active rooms of the candidate institutions.
CREATE INDEX rooms_active_institution ON rooms (institution_id, capacity) WHERE active;

-- Great-circle distance in kilometres between two points (haversine, mean earth radius).
CREATE FUNCTION haversine_km(lat1 double precision, lon1 double precision,
                             lat2 double precision, lon2 double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT 2 * 6371.0088 * asin(least(1.0, sqrt(
        power(sin(radians(lat2 - lat1) / 2), 2)
        + cos(radians(lat1)) * cos(radians(lat2)) * power(sin(radians(lon2 - lon1) / 2), 2))))
$$;

-- Same signature and meaning as in 0003, plus: a deactivated room has no open time at all, so
-- the booking transaction (which checks a booking lies inside room_open_time) refuses it and
-- room_free_time is empty for it.
CREATE OR REPLACE FUNCTION room_open_time(p_room uuid, p_window tstzrange) RETURNS tstzmultirange
LANGUAGE sql STABLE AS $$
    WITH r AS (
        SELECT rm.id, i.timezone AS tz, (rm.closed_on_holidays OR i.closed_on_holidays) AS holiday_closed
        FROM rooms rm JOIN institutions i ON i.id = rm.institution_id
        WHERE rm.id = p_room AND rm.active
          AND NOT lower_inf(p_window) AND NOT upper_inf(p_window)
    ),
    days AS (
        -- One day earlier than the window so windows crossing midnight into it are included.
        SELECT g::date AS day, r.tz, r.holiday_closed
        FROM r, generate_series((lower(p_window) AT TIME ZONE r.tz)::date - 1,
                                (upper(p_window) AT TIME ZONE r.tz)::date,
                                interval '1 day') AS g
    ),
    bounds AS (
        SELECT (d.day + ar.start_time) AT TIME ZONE d.tz AS lo,
               (d.day + ar.end_time
                  + CASE WHEN ar.end_time <= ar.start_time THEN interval '1 day'
                         ELSE interval '0' END) AT TIME ZONE d.tz AS hi
        FROM days d
        JOIN availability_rules ar ON ar.room_id = p_room
        WHERE extract(isodow FROM d.day)::smallint = ANY (ar.days)
          AND (ar.valid_from IS NULL OR d.day >= ar.valid_from)
          AND (ar.valid_until IS NULL OR d.day <= ar.valid_until)
    ),
    windows AS (
        -- A window lying wholly inside a skipped DST hour has no absolute time: drop it
        -- rather than build an inverted range.
        SELECT tstzrange(lo, hi, '[)') AS w FROM bounds WHERE lo < hi
    ),
    shut AS (
        SELECT c.during AS s FROM closures c WHERE c.room_id = p_room AND c.during && p_window
        UNION ALL
        SELECT tstzrange(h.day::timestamp AT TIME ZONE d.tz, (h.day + 1)::timestamp AT TIME ZONE d.tz, '[)')
        FROM days d JOIN public_holidays h ON h.country = 'KR' AND h.day = d.day
        WHERE d.holiday_closed
    )
    SELECT (coalesce((SELECT range_agg(w) FROM windows), '{}'::tstzmultirange)
            * tstzmultirange(p_window))
           - coalesce((SELECT range_agg(s) FROM shut), '{}'::tstzmultirange)
$$;
