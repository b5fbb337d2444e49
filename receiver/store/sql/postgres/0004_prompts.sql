-- Sample prompts, stored only when `include_prompts` is on (NULL otherwise).
ALTER TABLE failures ADD COLUMN IF NOT EXISTS prompt TEXT;
-- The first prompt seen with an error of an episode.
ALTER TABLE group_errors ADD COLUMN IF NOT EXISTS sample_prompt TEXT;
