-- Upload deploys (`slipway deploy dist`): a release published from an archive, without Git,
-- is recorded as a build with the trigger `upload` (no commit), so history, logs, rollback
-- and the immutable URL work for it as for any build.
ALTER TABLE builds DROP CONSTRAINT builds_trigger_check;
ALTER TABLE builds ADD CONSTRAINT builds_trigger_check
    CHECK (trigger IN ('push', 'manual', 'rollback', 'hook', 'upload'));
