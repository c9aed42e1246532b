-- Episodes marked failed before passing faults were retried (a transcript answering 503 once, a
-- full disk) get one more try: permanent failures are marked failed again with their error.
UPDATE episodes SET status = 'new', error = NULL WHERE status = 'failed';
