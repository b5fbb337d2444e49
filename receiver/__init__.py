"""failwatch: grouped alerts for failed generations in Supabase."""

__version__ = "0.1.0"
