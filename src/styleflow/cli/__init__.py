"""The ``styleflow`` command line: one module per subcommand (``register`` + ``run``), dispatched by :mod:`styleflow.cli.main`."""
