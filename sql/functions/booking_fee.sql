-- The price quote of booking room p_room for [p_start, p_end): the one home of the fee rule, used
-- by booking_json (the POST /v1/bookings answer), the booking reads and the 409 alternatives.
-- The fee is the national open-data standard's: free (fee_krw = 0); or fee_krw per block of
-- fee_base_hours (1 hour when not published) — every block begun is paid, so a booking shorter
-- than one block pays one block; or, when the room publishes an overtime unit and fee, one base
-- block and then overtime_fee_krw per overtime unit begun. A room whose fee is not published
-- (fee_krw NULL) quotes amount null. Answers {amount, currency: "KRW", breakdown: [{item,
-- count, hours, unit_krw, krw}]}; the quote is what the citizen will owe (no payment is taken).
CREATE OR REPLACE FUNCTION booking_fee(p_room uuid, p_start timestamptz, p_end timestamptz)
RETURNS json
LANGUAGE plpgsql STABLE AS $$
BEGIN
    -- PL/pgSQL so that its plan is cached per session (book() calls it on every booking).
    RETURN (
    WITH r AS (
            SELECT rm.fee_krw AS fee, coalesce(rm.fee_base_hours, 1) AS base,
                   rm.overtime_unit_hours AS unit, rm.overtime_fee_krw AS overtime,
                   greatest(extract(epoch FROM p_end - p_start) / 3600, 0) AS hours
            FROM rooms rm WHERE rm.id = p_room
        ),
        q AS (
            SELECT r.*,
                   CASE WHEN r.unit IS NULL OR r.overtime IS NULL
                        THEN greatest(ceil(r.hours / r.base), 1) ELSE 1 END::integer AS blocks,
                   CASE WHEN r.unit IS NULL OR r.overtime IS NULL THEN 0
                        ELSE ceil(greatest(r.hours - r.base, 0) / r.unit) END::integer AS units
            FROM r
        )
        SELECT CASE
            WHEN q.fee IS NULL THEN
                json_build_object('amount', NULL, 'currency', 'KRW', 'breakdown', json_build_array())
            WHEN q.fee = 0 THEN
                json_build_object('amount', 0, 'currency', 'KRW', 'breakdown', json_build_array())
            ELSE json_build_object(
                'amount', q.blocks * q.fee + q.units * coalesce(q.overtime, 0),
                'currency', 'KRW',
                'breakdown', CASE WHEN q.units = 0 THEN
                    json_build_array(json_build_object(
                        'item', 'block', 'count', q.blocks, 'hours', q.base::float8,
                        'unit_krw', q.fee, 'krw', q.blocks * q.fee))
                ELSE
                    json_build_array(
                        json_build_object(
                            'item', 'block', 'count', q.blocks, 'hours', q.base::float8,
                            'unit_krw', q.fee, 'krw', q.blocks * q.fee),
                        json_build_object(
                            'item', 'overtime', 'count', q.units, 'hours', q.unit::float8,
                            'unit_krw', q.overtime, 'krw', q.units * q.overtime))
                END)
        END
        FROM q
    );
END
$$;
