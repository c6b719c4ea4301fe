-- RFC 3339 text of an instant exactly as msgspec encodes an aware datetime, so answers built here
-- (the POST /v1/bookings body, stored for Idempotency-Key replays) and answers built in Python look
-- the same: "2026-12-05T19:00:00+09:00", ".120000" when there are microseconds, "Z" for a zero
-- offset. rfc3339_local gives the local time of timezone p_tz (answers are in the institution's
-- offset); rfc3339_utc the UTC time (history notes).
CREATE OR REPLACE FUNCTION rfc3339_local(p_at timestamptz, p_tz text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    v_local timestamp := p_at AT TIME ZONE p_tz;
    v_off integer := (extract(epoch FROM v_local - (p_at AT TIME ZONE 'UTC')) / 60)::integer;
BEGIN
    -- PL/pgSQL rather than SQL: book() calls it four times per booking, and a SQL function with
    -- a FROM clause is planned again on every call (this one's plan is cached per session).
    RETURN to_char(v_local, 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE WHEN extract(microseconds FROM p_at)::bigint % 1000000 <> 0
                THEN to_char(v_local, '.US') ELSE '' END
        || CASE WHEN v_off = 0 THEN 'Z'
                ELSE CASE WHEN v_off < 0 THEN '-' ELSE '+' END
                     || lpad((abs(v_off) / 60)::text, 2, '0') || ':'
                     || lpad((abs(v_off) % 60)::text, 2, '0') END;
END
$$;

CREATE OR REPLACE FUNCTION rfc3339_utc(p_at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT rfc3339_local(p_at, 'UTC')
$$;
