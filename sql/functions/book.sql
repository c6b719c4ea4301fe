-- POST /v1/bookings in one call (one round trip per booking): checks the account, the room and
-- every rule, inserts the booking, its history row and a booking.created outbox row, stores the
-- idempotent answer, and returns the HTTP status and body to send, and whether the answer is a
-- replay of an earlier one with the same Idempotency-Key. Refusals are raised with our SQLSTATEs
-- (NB...; booking/errors.py maps them). Conflicts are never checked here: the INSERT meets
-- booking_no_overlap and raises 23P01.
CREATE OR REPLACE FUNCTION book(
    p_citizen uuid, p_room uuid, p_start timestamptz, p_end timestamptz, p_purpose text,
    p_purpose_public boolean, p_attendees integer, p_idem_key text, p_idem_hash bytea
) RETURNS TABLE (status_code integer, body text, booking_id uuid, replayed boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_now timestamptz := now();
    v_verified boolean;
    v_status text;
    v_tz text;
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
                RAISE EXCEPTION USING ERRCODE = 'NBIDM',
                    MESSAGE = 'This Idempotency-Key was used with a different request body.';
            END IF;
            RETURN QUERY SELECT v_code, convert_from(v_response, 'UTF8'), NULL::uuid, true;
            RETURN;
        END IF;
    END IF;

    -- Concurrent bookings of one citizen queue on this lock, so the active limit below cannot
    -- be passed twice at once. (An advisory lock, not a row lock: nothing is written to users.)
    PERFORM pg_advisory_xact_lock(30, hashtext(p_citizen::text));
    -- Roles are capabilities: every account books as a resident (a manager's or an admin's
    -- booking is decided by someone else, booking/reservations/service.py). It needs a verified
    -- e-mail address.
    SELECT u.email_verified_at IS NOT NULL INTO v_verified FROM users u
    WHERE u.id = p_citizen AND u.disabled_at IS NULL AND u.deleted_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'NBAUT', MESSAGE = 'This account can no longer sign in.';
    END IF;
    IF NOT v_verified THEN
        RAISE EXCEPTION USING ERRCODE = 'NBUNV',
            MESSAGE = 'Confirm your e-mail address first: open the link in the e-mail we sent.';
    END IF;

    SELECT p.new_status, p.timezone INTO v_status, v_tz
    FROM booking_check_policy(p_room, p_start, p_end, p_attendees, v_now) AS p;

    SELECT rm.max_active_per_citizen INTO v_limit FROM rooms rm WHERE rm.id = p_room;
    SELECT count(*) INTO v_active FROM bookings bk
    WHERE bk.citizen_id = p_citizen AND bk.room_id = p_room AND bk.holds_slot
      AND upper(bk.during) > v_now;
    IF v_active >= v_limit THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'active_limit',
            MESSAGE = format('You may hold at most %s upcoming bookings of this room.', v_limit);
    END IF;
    -- Suspension, lottery-held slots and monthly caps (sql/functions/booking_check_allocation.sql),
    -- counted under the citizen's lock above.
    PERFORM booking_check_allocation(p_citizen, p_room, p_start, p_end, v_now, NULL);

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

    body := booking_json(b, v_tz);
    IF p_idem_key IS NOT NULL THEN
        UPDATE idempotency_keys k SET status_code = 201, response = convert_to(body, 'UTF8')
        WHERE k.user_id = p_citizen AND k.key = p_idem_key;
    END IF;
    RETURN QUERY SELECT 201, body, b.id, false;
END
$$;
