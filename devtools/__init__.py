"""Developer tools: static checks that run in ``make lint`` and CI (never deployed)."""
