-- Mail may carry files (a confirmation's calendar invitation): the outbox helper adds the
-- attachments column to an outbox created before it.
SELECT mais_create_outbox();
