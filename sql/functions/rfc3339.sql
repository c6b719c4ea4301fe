-- RFC 3339 text of an instant exactly as msgspec encodes an aware datetime, so answers built here
-- (the POST /v1/bookings body, stored for Idempotency-Key replays) and answers built in Python look
-- the same: "2026-12-05T19:00:00+09:00", ".120000" when there are microseconds, "Z" for a zero
-- offset. rfc3339_local gives the local time of timezone p_tz (answers are in the institution's
-- offset); rfc3339_utc the UTC time (history notes).
CREATE OR REPLACE FUNCTION rfc3339_local(p_at timestamptz, p_tz text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT to_char(local, 'YYYY-MM-DD"T"HH24:MI:SS')
           || CASE WHEN extract(microseconds FROM p_at)::bigint % 1000000 <> 0
                   THEN to_char(local, '.US') ELSE '' END
           || CASE WHEN off = 0 THEN 'Z'
                   ELSE CASE WHEN off < 0 THEN '-' ELSE '+' END
                        || lpad((abs(off) / 60)::text, 2, '0') || ':'
                        || lpad((abs(off) % 60)::text, 2, '0') END
    FROM (SELECT p_at AT TIME ZONE p_tz AS local,
                 (extract(epoch FROM (p_at AT TIME ZONE p_tz) - (p_at AT TIME ZONE 'UTC')) / 60)::int
                     AS off) AS t
$$;

CREATE OR REPLACE FUNCTION rfc3339_utc(p_at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT rfc3339_local(p_at, 'UTC')
$$;
