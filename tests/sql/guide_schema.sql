-- The tables the guide's queries join, shaped as a Supabase project has them.
-- Test fixtures build this in a scratch database; failwatch never creates these.
CREATE SCHEMA IF NOT EXISTS auth;

CREATE TABLE IF NOT EXISTS auth.users (
    id         uuid PRIMARY KEY,
    email      text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.profiles (
    id           text PRIMARY KEY,
    display_name text,
    username     text
);

CREATE TABLE IF NOT EXISTS public.projects (
    id   text PRIMARY KEY,
    name text NOT NULL
);

CREATE TABLE IF NOT EXISTS public.sessions (
    id         text PRIMARY KEY,
    name       text,
    project_id text REFERENCES public.projects (id)
);

CREATE TABLE IF NOT EXISTS public.generations (
    id         text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    user_id    text,
    session_id text REFERENCES public.sessions (id),
    model_id   text,
    prompt     text,
    status     text NOT NULL DEFAULT 'queued'
               CHECK (status IN ('queued', 'processing', 'completed', 'failed', 'cancelled')),
    parameters jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
