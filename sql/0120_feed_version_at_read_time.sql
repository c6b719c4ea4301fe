-- Bookings no longer bump a per-room counter when they are written: public feeds and the 409's
-- alternatives derive their version from the bookings' own row versions when they are read
-- (booking/feeds/queries.py, sql/functions/room_change_stamp.sql). Every booking write paid for
-- the trigger and an UPSERT of one hot row per room; the readers ask at most once a second.
DROP TRIGGER IF EXISTS bookings_bump_room_feed_version ON bookings;
DROP FUNCTION IF EXISTS bump_room_feed_version();
DROP TABLE IF EXISTS room_feed_versions;
