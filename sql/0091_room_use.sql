-- The managers' Use page (issue 12) reads the same monthly figures as the open usage data
-- (sql/0080's room_usage_monthly), plus when bookings start: by_weekday (Mon..Sun) and by_hour
-- (0..23) count the month's bookings by their local start. One table, one computation
-- (sql/functions/refresh_room_usage.sql).
-- lottery_slots / lottery_applications: the room's lottery slots starting in the month and the
-- applications for them (withdrawn ones apart): demand, published as applications per slot.
ALTER TABLE room_usage_monthly
    ADD COLUMN lottery_slots integer NOT NULL DEFAULT 0,
    ADD COLUMN lottery_applications integer NOT NULL DEFAULT 0,
    ADD COLUMN by_weekday integer[] NOT NULL DEFAULT array_fill(0, ARRAY[7]),
    ADD COLUMN by_hour integer[] NOT NULL DEFAULT array_fill(0, ARRAY[24]),
    ADD CONSTRAINT room_usage_monthly_shape CHECK (
        cardinality(by_weekday) = 7 AND cardinality(by_hour) = 24);
-- The Use page reads a room's last twelve months.
CREATE INDEX room_usage_monthly_room ON room_usage_monthly (room_id, month);
