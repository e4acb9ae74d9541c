-- Mail speaks for a business: its name as the From display name and its address as Reply-To. The
-- outbox helper adds both columns to an outbox created before them (and has them from the start since).
SELECT mais_create_outbox();
