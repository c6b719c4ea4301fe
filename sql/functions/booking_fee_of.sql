-- The price quote of booking room rm for [p_start, p_end): the one home of the fee rule, used by
-- booking_json (the POST /v1/bookings answer), the booking reads and the 409 alternatives
-- (through booking_fee(), which reads the room first).
-- The fee is the national open-data standard's: free (fee_krw = 0); or fee_krw per block of
-- fee_base_hours (1 hour when not published) — every block begun is paid, so a booking shorter
-- than one block pays one block; or, when the room publishes an overtime unit and fee, one base
-- block and then overtime_fee_krw per overtime unit begun. A room whose fee is not published
-- (fee_krw NULL) quotes amount null. Answers {amount, currency: "KRW", breakdown: [{item,
-- count, hours, unit_krw, krw}]}; the quote is what the citizen will owe (no payment is taken).
CREATE OR REPLACE FUNCTION booking_fee_of(rm rooms, p_start timestamptz, p_end timestamptz)
RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
    -- Plain expressions only (no query): evaluated without starting an executor.
    v_base numeric := coalesce(rm.fee_base_hours, 1);
    v_hours numeric := greatest(extract(epoch FROM p_end - p_start) / 3600, 0);
    v_overtime boolean := rm.overtime_unit_hours IS NOT NULL AND rm.overtime_fee_krw IS NOT NULL;
    v_blocks integer;
    v_units integer;
    v_block json;
BEGIN
    IF rm.fee_krw IS NULL OR rm.fee_krw = 0 THEN
        RETURN json_build_object('amount', rm.fee_krw, 'currency', 'KRW',
                                 'breakdown', json_build_array());
    END IF;
    v_blocks := CASE WHEN v_overtime THEN 1 ELSE greatest(ceil(v_hours / v_base), 1) END;
    v_units := CASE WHEN v_overtime THEN ceil(greatest(v_hours - v_base, 0) / rm.overtime_unit_hours)
                    ELSE 0 END;
    v_block := json_build_object('item', 'block', 'count', v_blocks, 'hours', v_base::float8,
                                 'unit_krw', rm.fee_krw, 'krw', v_blocks * rm.fee_krw);
    RETURN json_build_object(
        'amount', v_blocks * rm.fee_krw + v_units * coalesce(rm.overtime_fee_krw, 0),
        'currency', 'KRW',
        'breakdown', CASE WHEN v_units = 0 THEN json_build_array(v_block)
                          ELSE json_build_array(v_block, json_build_object(
                              'item', 'overtime', 'count', v_units,
                              'hours', rm.overtime_unit_hours::float8,
                              'unit_krw', rm.overtime_fee_krw,
                              'krw', v_units * rm.overtime_fee_krw))
                     END);
END
$$;
