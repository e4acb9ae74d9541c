-- The event date a booking's due dates were planned against (issue 16): a reschedule moves owed due
-- dates by as many days as the event moved (ShiftSchedule). Schedules made before this have none and
-- are left as they are by a reschedule (the tenant admin can still move a due date by hand).
ALTER TABLE instalments ADD COLUMN event_date date;
