"""The example notebooks and their runner (``python -m notebooks.run``)."""
