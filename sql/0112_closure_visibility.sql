-- Closures: whether citizens see the reason ("shown to citizens") or only that the room is not
-- available ("internal"). Closed time is unbookable either way. Existing closures, and new ones
-- that do not say, stay internal: before this column no closure reason reached any public answer,
-- and reasons were written for the staff ("구청장 비공개 간담회"), so none is published
-- after the fact.
ALTER TABLE closures ADD COLUMN reason_public boolean NOT NULL DEFAULT false;
