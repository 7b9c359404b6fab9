"""The pytest layer: hooks, options, the session, fixtures, plan and reports."""
