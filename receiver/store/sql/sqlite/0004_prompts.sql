-- Sample prompts, stored only when `include_prompts` is on (NULL otherwise).
ALTER TABLE failures ADD COLUMN prompt TEXT;
-- The first prompt seen with an error of an episode.
ALTER TABLE group_errors ADD COLUMN sample_prompt TEXT;
