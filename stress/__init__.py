"""threadevent's stress suite and benchmark report (``python -m stress``, ``python -m stress.bench``)."""
