-- Reservations: the booking transaction as one function call (one round trip per booking),
-- the shared policy check, lifecycle transitions and the alternatives offered on a conflict.
--
-- Refusals are raised with SQLSTATE P0001 and a machine-readable MESSAGE ("policy:min_duration",
-- "not_found:room", "idempotency:mismatch", ...) plus a human DETAIL; the Python service maps
-- the MESSAGE to HTTP in one dict. Conflicts are never checked here: the INSERT/UPDATE meets
-- booking_no_overlap and raises 23P01.

-- RFC 3339 in UTC exactly as msgspec encodes an aware UTC datetime (so stored idempotent
-- answers and GET answers look the same): "2026-12-05T10:00:00Z" or "...:00.120000Z".
CREATE FUNCTION rfc3339_utc(p_at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
           || CASE WHEN extract(microseconds FROM p_at)::bigint % 1000000 <> 0
                   THEN to_char(p_at AT TIME ZONE 'UTC', '.US') ELSE '' END
           || 'Z'
$$;

-- The JSON a citizen sees for one of their bookings (the POST /v1/bookings answer body).
CREATE FUNCTION booking_json(b bookings) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', b.id,
        'status', b.status,
        'room_id', b.room_id,
        'start', rfc3339_utc(lower(b.during)),
        'end', rfc3339_utc(upper(b.during)),
        'purpose', b.purpose,
        'purpose_public', b.purpose_public,
        'attendees', b.attendees,
        'sequence', b.sequence,
        'created_at', rfc3339_utc(b.created_at),
        'updated_at', rfc3339_utc(b.updated_at)
    )::text
$$;

-- Every rule of the room's booking policy for [p_start, p_end); raises "policy:<rule>".
-- Returns the status a new booking gets (pending when the room requires approval).
CREATE FUNCTION booking_check_policy(
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
    IF NOT room_open_time(p_room, tstzrange(p_start, p_end, '[)')) @> tstzrange(p_start, p_end, '[)') THEN
        RAISE EXCEPTION 'policy:outside_opening_hours'
            USING DETAIL = 'The room is not open for the whole range (opening hours, closures, holidays).';
    END IF;
    RETURN CASE WHEN r.requires_approval THEN 'pending' ELSE 'confirmed' END;
END
$$;

-- POST /v1/bookings in one call. Returns the HTTP status and body to send, and whether the
-- answer is a replay of an earlier one with the same Idempotency-Key.
CREATE FUNCTION book(
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

    -- The exclusion constraint booking_no_overlap decides conflicts (23P01).
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

-- Moves an existing booking to [p_start, p_end) after the same policy checks (the caller holds
-- the row lock and checked who may do it). A room that requires approval needs it again.
CREATE FUNCTION reschedule_booking(
    p_booking uuid, p_actor uuid, p_start timestamptz, p_end timestamptz
) RETURNS bookings
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_now timestamptz := now();
    v_new_status text;
    old bookings;
    b bookings;
BEGIN
    SELECT * INTO old FROM bookings WHERE id = p_booking FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'not_found:booking' USING DETAIL = 'No such booking.';
    END IF;
    IF old.status NOT IN ('pending', 'confirmed') OR lower(old.during) <= v_now THEN
        RAISE EXCEPTION 'illegal_transition:%', old.status
            USING DETAIL = 'Only a pending or confirmed booking that has not started can be rescheduled.';
    END IF;
    v_new_status := booking_check_policy(old.room_id, p_start, p_end, old.attendees, v_now);
    UPDATE bookings
    SET during = tstzrange(p_start, p_end, '[)'), status = v_new_status,
        sequence = sequence + 1, updated_at = v_now
    WHERE id = p_booking
    RETURNING * INTO b;
    INSERT INTO booking_history (booking_id, actor_id, from_status, to_status, during, reason, at)
    VALUES (b.id, p_actor, old.status, b.status, b.during,
            'rescheduled from [' || rfc3339_utc(lower(old.during)) || ', '
                || rfc3339_utc(upper(old.during)) || ')',
            v_now);
    INSERT INTO outbox (topic, booking_id, created_at) VALUES ('booking.rescheduled', b.id, v_now);
    RETURN b;
END
$$;

-- A status change with its history row, iCal sequence bump and outbox event, refused with
-- "illegal_transition:<current status>" unless the booking is in one of p_from.
CREATE FUNCTION booking_transition(
    p_booking uuid, p_to text, p_from text[], p_actor uuid, p_reason text, p_topic text
) RETURNS bookings
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_now timestamptz := now();
    old_status text;
    b bookings;
BEGIN
    SELECT status INTO old_status FROM bookings WHERE id = p_booking FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'not_found:booking' USING DETAIL = 'No such booking.';
    END IF;
    IF NOT old_status = ANY (p_from) THEN
        RAISE EXCEPTION 'illegal_transition:%', old_status
            USING DETAIL = format('A %s booking cannot become %s.', old_status, p_to);
    END IF;
    UPDATE bookings SET status = p_to, sequence = sequence + 1, updated_at = v_now
    WHERE id = p_booking
    RETURNING * INTO b;
    INSERT INTO booking_history (booking_id, actor_id, from_status, to_status, during, reason, at)
    VALUES (b.id, p_actor, old_status, p_to, b.during, coalesce(p_reason, ''), v_now);
    IF p_topic IS NOT NULL THEN
        INSERT INTO outbox (topic, booking_id, created_at) VALUES (p_topic, b.id, v_now);
    END IF;
    RETURN b;
END
$$;

-- Up to p_limit free ranges of the same length as [p_start, p_end) in the same room, aligned to
-- its slots in local time, within lead time and horizon, nearest to p_start first. Looks one
-- day either side first and a week only when that finds too few (this runs on every conflict).
CREATE FUNCTION booking_alternatives(
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
    FOREACH v_reach IN ARRAY ARRAY[interval '1 day', interval '7 days'] LOOP
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
