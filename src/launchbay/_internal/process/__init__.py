"""Local process runs: ``spec`` builds what will run, ``runner`` starts and
watches it; ``containment``, ``identity``, ``registry`` and ``watchdog`` make a
run's id and lifetime trustworthy (SPEC 13)."""
