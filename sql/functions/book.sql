-- POST /v1/bookings in one call (one round trip per booking): checks the account, the room and
-- every rule, inserts the booking, its history row and a booking.created outbox row, stores the
-- idempotent answer, and returns the HTTP status and body to send, and whether the answer is a
-- replay of an earlier one with the same Idempotency-Key. Refusals are raised with our SQLSTATEs
-- (NB...; booking/errors.py maps them). A slot already taken answers 409 with a body of `stamp`,
-- `timezone`, `fee` and `conflicts` (pairs of instants) for the caller to complete; otherwise
-- conflicts are decided by the INSERT meeting booking_no_overlap, which raises 23P01.
CREATE OR REPLACE FUNCTION book(
    p_citizen uuid, p_room uuid, p_start timestamptz, p_end timestamptz, p_purpose text,
    p_purpose_public boolean, p_attendees integer, p_idem_key text, p_idem_hash bytea
) RETURNS TABLE (status_code integer, body text, booking_id uuid, replayed boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_now timestamptz := now();
    c record;
    v_room rooms;
    v_status text;
    v_active integer;
    v_locked boolean;
    v_conflicts tstzrange[];
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
                RAISE EXCEPTION USING ERRCODE = 'NBIDM',
                    MESSAGE = 'This Idempotency-Key was used with a different request body.';
            END IF;
            RETURN QUERY SELECT v_code, convert_from(v_response, 'UTF8'), NULL::uuid, true;
            RETURN;
        END IF;
    END IF;

    -- One read of everything the rules need: the account, the room and its institution. It also
    -- takes the citizen's lock: concurrent bookings of one citizen queue there, so the active
    -- limit and the caps below (later statements, so later snapshots) cannot be passed twice at
    -- once. (An advisory lock, not a row lock: nothing is written to users.)
    SELECT u.id IS NOT NULL AS account_ok, u.email_verified_at IS NOT NULL AS verified,
           rm AS room, rm.id IS NOT NULL AS room_found, i.timezone AS tz,
           (rm.closed_on_holidays OR i.closed_on_holidays) AS holiday_closed,
           i.monthly_cap_per_citizen AS institution_cap,
           pg_advisory_xact_lock(30, hashtext(p_citizen::text)) IS NULL AS locked
    INTO c
    FROM (SELECT) AS one
    LEFT JOIN users u ON u.id = p_citizen AND u.disabled_at IS NULL AND u.deleted_at IS NULL
    LEFT JOIN rooms rm ON rm.id = p_room
    LEFT JOIN institutions i ON i.id = rm.institution_id;
    -- Roles are capabilities: every account books as a resident (a manager's or an admin's
    -- booking is decided by someone else, booking/reservations/service.py). It needs a verified
    -- e-mail address.
    IF NOT c.account_ok THEN
        RAISE EXCEPTION USING ERRCODE = 'NBAUT', MESSAGE = 'This account can no longer sign in.';
    END IF;
    IF NOT c.verified THEN
        RAISE EXCEPTION USING ERRCODE = 'NBUNV',
            MESSAGE = 'Confirm your e-mail address first: open the link in the e-mail we sent.';
    END IF;
    IF NOT c.room_found THEN
        RAISE EXCEPTION USING ERRCODE = 'NBNFD', CONSTRAINT = 'room', MESSAGE = 'No such room.';
    END IF;
    v_room := c.room;
    -- A slot already taken (committed) is answered at once, with what the 409 names, in this one
    -- call: a request that loses a hot slot costs this one statement, not the rules, a failed
    -- insert and a second round trip. The exclusion constraint still decides at the insert below
    -- (a booking committed in between meets it there, and the caller explains it then).
    IF p_end > p_start THEN
        v_conflicts := booking_conflicts(p_room, tstzrange(p_start, p_end, '[)'), NULL);
        IF cardinality(v_conflicts) > 0 THEN
            IF p_idem_key IS NOT NULL THEN  -- only successful answers are kept (see above)
                DELETE FROM idempotency_keys k WHERE k.user_id = p_citizen AND k.key = p_idem_key;
            END IF;
            status_code := 409;
            body := json_build_object(
                'stamp', room_change_stamp(p_room, tstzrange(p_start - interval '8 days',
                                                             p_end + interval '8 days', '[)')),
                'timezone', c.tz,
                'fee', booking_fee_of(v_room, p_start, p_end),
                'conflicts', (SELECT json_agg(json_build_array(lower(u.r), upper(u.r)))
                              FROM unnest(v_conflicts) AS u(r)))::text;
            replayed := false;
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;
    v_status := booking_policy_status(v_room, c.tz, c.holiday_closed, p_start, p_end, p_attendees,
                                      v_now);
    SELECT count(*) INTO v_active FROM bookings bk
    WHERE bk.citizen_id = p_citizen AND bk.room_id = p_room AND bk.holds_slot
      AND upper(bk.during) > v_now;
    IF v_active >= v_room.max_active_per_citizen THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'active_limit',
            MESSAGE = format('You may hold at most %s upcoming bookings of this room.',
                             v_room.max_active_per_citizen);
    END IF;
    -- Suspension, lottery-held slots and monthly caps (booking_allocation_rules.sql), counted
    -- under the citizen's lock above.
    PERFORM booking_allocation_rules(p_citizen, p_room, v_room.allocation_mode,
                                     v_room.monthly_cap_per_citizen, v_room.institution_id,
                                     c.institution_cap, c.tz, p_start, p_end, v_now, NULL);

    -- Inserters of one room take turns from here to the end of their transaction. It decides
    -- nothing: the exclusion constraint booking_no_overlap still decides conflicts (23P01).
    -- Without it, the attempts on one hot slot each insert a tuple and then wait on each other's
    -- tuples (and deadlock, detected only after deadlock_timeout) before meeting the committed
    -- winner. (An assignment, not PERFORM: a plain expression needs no executor.)
    v_locked := pg_advisory_xact_lock(31, hashtext(p_room::text)) IS NULL;
    -- The booking, its history row and its booking.created outbox row in one statement.
    WITH nb AS (
        INSERT INTO bookings (room_id, citizen_id, during, status, purpose, purpose_public,
                              attendees, created_at, updated_at)
        VALUES (p_room, p_citizen, tstzrange(p_start, p_end, '[)'), v_status, p_purpose,
                p_purpose_public, p_attendees, v_now, v_now)
        RETURNING *
    ), history AS (
        INSERT INTO booking_history (booking_id, actor_id, from_status, to_status, during, reason, at)
        SELECT nb.id, p_citizen, NULL, nb.status, nb.during, '', v_now FROM nb
    ), event AS (
        INSERT INTO outbox (topic, booking_id, created_at)
        SELECT 'booking.created', nb.id, v_now FROM nb
    )
    SELECT * INTO b FROM nb;

    body := booking_json(b, c.tz, booking_fee_of(v_room, p_start, p_end));
    IF p_idem_key IS NOT NULL THEN
        UPDATE idempotency_keys k SET status_code = 201, response = convert_to(body, 'UTF8')
        WHERE k.user_id = p_citizen AND k.key = p_idem_key;
    END IF;
    status_code := 201;
    booking_id := b.id;
    replayed := false;
    RETURN NEXT;
END
$$;
