-- Walk-in bookings (issue 12): the front desk books a free slot for a person without an account
-- or internet. The booking's citizen_id is the manager at the desk (who made it); the person's
-- name and phone (and e-mail, if they gave one: then they get the same messages as a citizen)
-- are kept on the booking itself.
ALTER TABLE bookings
    ADD COLUMN walk_in_name  text,
    ADD COLUMN walk_in_phone text,
    ADD COLUMN walk_in_email text;

ALTER TABLE bookings ADD CONSTRAINT bookings_walk_in_person CHECK (
    walk_in_name IS NULL
    OR (char_length(btrim(walk_in_name)) BETWEEN 1 AND 100
        AND walk_in_phone IS NOT NULL AND char_length(btrim(walk_in_phone)) BETWEEN 1 AND 30));
ALTER TABLE bookings ADD CONSTRAINT bookings_walk_in_contact CHECK (
    walk_in_name IS NOT NULL OR (walk_in_phone IS NULL AND walk_in_email IS NULL));
ALTER TABLE bookings ADD CONSTRAINT bookings_walk_in_email_length CHECK (
    walk_in_email IS NULL OR char_length(walk_in_email) BETWEEN 3 AND 320);
