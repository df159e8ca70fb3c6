"""The ``aersim`` command line."""
