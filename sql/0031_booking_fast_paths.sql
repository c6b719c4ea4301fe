-- Booking fast paths: a boolean opening-hours check for the booking transaction, and one call
-- that explains a conflict (the 409 body) with the alternatives computed only when the caller
-- has no current copy of them.

-- room_open_time(p_room, p_during) @> p_during, as a yes/no answer that builds no multirange of
-- the whole window: the room must be active, no closure may overlap the range, no public holiday
-- (when the room or institution closes on them) may overlap it, and the weekly windows of the
-- local days the range touches (from the day before, for windows crossing midnight) must cover
-- it. Same days, same DST handling and same validity rules as room_open_time (sql/0020). Being
-- PL/pgSQL its plans are cached per session, whereas room_open_time, a SQL function, is planned
-- again in every transaction that calls it. room_open_time stays the definition for free time.
CREATE FUNCTION room_is_open(p_room uuid, p_during tstzrange) RETURNS boolean
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
        SELECT 1 FROM public_holidays h
        WHERE h.country = 'KR' AND h.day BETWEEN v_first AND v_last
          AND tstzrange(h.day::timestamp AT TIME ZONE v_tz,
                        (h.day + 1)::timestamp AT TIME ZONE v_tz, '[)') && p_during
    ) THEN
        RETURN false;
    END IF;
    SELECT coalesce(range_agg(tstzrange(b.lo, b.hi, '[)')) FILTER (WHERE b.lo < b.hi),
                    '{}'::tstzmultirange) @> p_during
    INTO v_covered
    FROM (
        SELECT (d.day + ar.start_time) AT TIME ZONE v_tz AS lo,
               (d.day + ar.end_time
                  + CASE WHEN ar.end_time <= ar.start_time THEN interval '1 day'
                         ELSE interval '0' END) AT TIME ZONE v_tz AS hi
        FROM (SELECT g::date AS day
              FROM generate_series(v_first::timestamp, v_last::timestamp, interval '1 day') AS g
             ) d
        JOIN availability_rules ar ON ar.room_id = p_room
        WHERE extract(isodow FROM d.day)::smallint = ANY (ar.days)
          AND (ar.valid_from IS NULL OR d.day >= ar.valid_from)
          AND (ar.valid_until IS NULL OR d.day <= ar.valid_until)
    ) b;
    RETURN v_covered;
END
$$;

-- As in sql/0030, with the opening-hours rule asked of room_is_open.
CREATE OR REPLACE FUNCTION booking_check_policy(
    p_room uuid, p_start timestamptz, p_end timestamptz, p_attendees integer, p_now timestamptz
) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r record;
    v_minutes numeric;
    v_local_start timestamp;
    v_local_end timestamp;
BEGIN
    SELECT rm.active, rm.capacity, rm.slot_minutes, rm.min_minutes, rm.max_minutes,
           rm.lead_minutes, rm.horizon_days, rm.requires_approval, i.timezone
    INTO r
    FROM rooms rm JOIN institutions i ON i.id = rm.institution_id
    WHERE rm.id = p_room;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'not_found:room' USING DETAIL = 'No such room.';
    END IF;
    IF NOT r.active THEN
        RAISE EXCEPTION 'policy:room_inactive'
            USING DETAIL = 'This room does not take bookings at the moment.';
    END IF;
    IF p_end <= p_start THEN
        RAISE EXCEPTION 'policy:end_before_start' USING DETAIL = 'end must be after start.';
    END IF;
    -- Slots are counted from local midnight of the institution's timezone.
    v_local_start := p_start AT TIME ZONE r.timezone;
    v_local_end := p_end AT TIME ZONE r.timezone;
    IF extract(epoch FROM v_local_start - date_trunc('day', v_local_start)) % (r.slot_minutes * 60) <> 0
       OR extract(epoch FROM v_local_end - date_trunc('day', v_local_end)) % (r.slot_minutes * 60) <> 0 THEN
        RAISE EXCEPTION 'policy:slot_alignment'
            USING DETAIL = format('start and end must fall on %s-minute slots (local time %s).',
                                  r.slot_minutes, r.timezone);
    END IF;
    v_minutes := extract(epoch FROM p_end - p_start) / 60;
    IF v_minutes < r.min_minutes THEN
        RAISE EXCEPTION 'policy:min_duration'
            USING DETAIL = format('Bookings of this room last at least %s minutes.', r.min_minutes);
    END IF;
    IF v_minutes > r.max_minutes THEN
        RAISE EXCEPTION 'policy:max_duration'
            USING DETAIL = format('Bookings of this room last at most %s minutes.', r.max_minutes);
    END IF;
    IF p_start < p_now + make_interval(mins => r.lead_minutes) THEN
        RAISE EXCEPTION 'policy:lead_time'
            USING DETAIL = format('Book at least %s minutes before the start.', r.lead_minutes);
    END IF;
    IF p_start > p_now + make_interval(days => r.horizon_days) THEN
        RAISE EXCEPTION 'policy:horizon'
            USING DETAIL = format('This room takes bookings at most %s days ahead.', r.horizon_days);
    END IF;
    IF p_attendees > r.capacity THEN
        RAISE EXCEPTION 'policy:capacity'
            USING DETAIL = format('This room holds at most %s people.', r.capacity);
    END IF;
    IF NOT room_is_open(p_room, tstzrange(p_start, p_end, '[)')) THEN
        RAISE EXCEPTION 'policy:outside_opening_hours'
            USING DETAIL = 'The room is not open for the whole range (opening hours, closures, holidays).';
    END IF;
    RETURN CASE WHEN r.requires_approval THEN 'pending' ELSE 'confirmed' END;
END
$$;

-- As in sql/0030, with a first look of three hours either side. The answer is the same: the
-- candidates of a reach are exactly those starting within it of p_start, so when a narrower
-- reach finds enough of them they are the nearest ones.
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

-- The body of a 409 slot-taken in one call: the slot-holding ranges overlapping [p_start, p_end)
-- (p_exclude aside), and up to three alternatives. `stamp` changes whenever anything the
-- alternatives depend on changes, except the clock: the room's booking version (bumped by every
-- booking change, sql/0040), and the row versions (xmin) of the room, its institution, its
-- weekly rules and its closures. A caller that already holds the alternatives for `p_known`
-- gets NULL alternatives when the stamp is still p_known, and skips their computation.
-- One snapshot for all of it (a STABLE function runs in its caller's snapshot).
CREATE FUNCTION booking_conflict(
    p_room uuid, p_start timestamptz, p_end timestamptz, p_exclude uuid, p_known text
) RETURNS TABLE (stamp text, conflicts tstzrange[], alternatives tstzrange[])
LANGUAGE plpgsql STABLE AS $$
BEGIN
    stamp := concat_ws(':',
        coalesce((SELECT v.version FROM room_feed_versions v WHERE v.room_id = p_room), 0),
        (SELECT rm.xmin::text || '/' || i.xmin::text
         FROM rooms rm JOIN institutions i ON i.id = rm.institution_id WHERE rm.id = p_room),
        (SELECT string_agg(ar.xmin::text, ',' ORDER BY ar.xmin::text)
         FROM availability_rules ar WHERE ar.room_id = p_room),
        (SELECT string_agg(c.xmin::text, ',' ORDER BY c.xmin::text)
         FROM closures c WHERE c.room_id = p_room));
    SELECT coalesce(array_agg(t.during ORDER BY lower(t.during)), '{}') INTO conflicts
    FROM (
        SELECT b.during FROM bookings b
        WHERE b.room_id = p_room AND b.during && tstzrange(p_start, p_end, '[)')
          AND b.status IN ('pending', 'confirmed', 'checked_in')
          AND (p_exclude IS NULL OR b.id <> p_exclude)
        ORDER BY lower(b.during)
        LIMIT 10
    ) t;
    IF p_known IS DISTINCT FROM stamp THEN
        SELECT coalesce(array_agg(tstzrange(a.alt_start, a.alt_end, '[)') ORDER BY a.n), '{}')
        INTO alternatives
        FROM booking_alternatives(p_room, p_start, p_end, 3) WITH ORDINALITY AS a(alt_start, alt_end, n);
    END IF;
    RETURN NEXT;
END
$$;

-- As in sql/0030, with a per-room turn before the INSERT (see the comment there).
CREATE OR REPLACE FUNCTION book(
    p_citizen uuid, p_room uuid, p_start timestamptz, p_end timestamptz, p_purpose text,
    p_purpose_public boolean, p_attendees integer, p_idem_key text, p_idem_hash bytea
) RETURNS TABLE (status_code integer, body text, booking_id uuid, replayed boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_now timestamptz := now();
    v_role text;
    v_status text;
    v_limit integer;
    v_active integer;
    v_lock_timeout text;
    v_claimed boolean;
    v_hash bytea;
    v_code integer;
    v_response bytea;
    b bookings;
BEGIN
    -- Idempotency first: a retry waits here (up to lock_timeout) for an in-flight first attempt
    -- with the same key, then replays its stored answer. Only successful answers are stored.
    IF p_idem_key IS NOT NULL THEN
        v_lock_timeout := current_setting('lock_timeout');
        PERFORM set_config('lock_timeout', '5s', true);
        INSERT INTO idempotency_keys AS k (user_id, key, request_hash, status_code, response)
        VALUES (p_citizen, p_idem_key, p_idem_hash, 0, '')
        ON CONFLICT (user_id, key) DO UPDATE
            SET request_hash = EXCLUDED.request_hash, status_code = 0, response = '',
                created_at = now()
            WHERE k.created_at < now() - interval '24 hours'
        RETURNING true INTO v_claimed;
        PERFORM set_config('lock_timeout', v_lock_timeout, true);
        IF v_claimed IS NULL THEN
            SELECT k.request_hash, k.status_code, k.response INTO v_hash, v_code, v_response
            FROM idempotency_keys k WHERE k.user_id = p_citizen AND k.key = p_idem_key;
            IF v_hash IS DISTINCT FROM p_idem_hash THEN
                RAISE EXCEPTION 'idempotency:mismatch'
                    USING DETAIL = 'This Idempotency-Key was used with a different request body.';
            END IF;
            RETURN QUERY SELECT v_code, convert_from(v_response, 'UTF8'), NULL::uuid, true;
            RETURN;
        END IF;
    END IF;

    -- Concurrent bookings of one citizen queue on this lock, so the active limit below cannot
    -- be passed twice at once. (An advisory lock, not a row lock: nothing is written to users.)
    PERFORM pg_advisory_xact_lock(30, hashtext(p_citizen::text));
    SELECT u.role INTO v_role FROM users u
    WHERE u.id = p_citizen AND u.disabled_at IS NULL AND u.deleted_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unauthorized:account' USING DETAIL = 'This account can no longer sign in.';
    END IF;
    IF v_role <> 'citizen' THEN
        RAISE EXCEPTION 'forbidden:role' USING DETAIL = 'Only citizen accounts book rooms.';
    END IF;

    v_status := booking_check_policy(p_room, p_start, p_end, p_attendees, v_now);

    SELECT rm.max_active_per_citizen INTO v_limit FROM rooms rm WHERE rm.id = p_room;
    SELECT count(*) INTO v_active FROM bookings bk
    WHERE bk.citizen_id = p_citizen AND bk.room_id = p_room
      AND bk.status IN ('pending', 'confirmed', 'checked_in') AND upper(bk.during) > v_now;
    IF v_active >= v_limit THEN
        RAISE EXCEPTION 'policy:active_limit'
            USING DETAIL = format('You may hold at most %s upcoming bookings of this room.', v_limit);
    END IF;

    -- Inserters of one room take turns from here to the end of their transaction (they already
    -- did at commit, on the room's room_feed_versions row). It decides nothing: the exclusion
    -- constraint booking_no_overlap still decides conflicts (23P01). Without it, the attempts
    -- on one hot slot each insert a tuple and then wait on each other's tuples (and deadlock,
    -- detected only after deadlock_timeout) before meeting the committed winner.
    PERFORM pg_advisory_xact_lock(31, hashtext(p_room::text));
    INSERT INTO bookings (room_id, citizen_id, during, status, purpose, purpose_public, attendees,
                          created_at, updated_at)
    VALUES (p_room, p_citizen, tstzrange(p_start, p_end, '[)'), v_status, p_purpose,
            p_purpose_public, p_attendees, v_now, v_now)
    RETURNING * INTO b;
    INSERT INTO booking_history (booking_id, actor_id, from_status, to_status, during, reason, at)
    VALUES (b.id, p_citizen, NULL, b.status, b.during, '', v_now);
    INSERT INTO outbox (topic, booking_id, created_at) VALUES ('booking.created', b.id, v_now);

    body := booking_json(b);
    IF p_idem_key IS NOT NULL THEN
        UPDATE idempotency_keys k SET status_code = 201, response = convert_to(body, 'UTF8')
        WHERE k.user_id = p_citizen AND k.key = p_idem_key;
    END IF;
    RETURN QUERY SELECT 201, body, b.id, false;
END
$$;
