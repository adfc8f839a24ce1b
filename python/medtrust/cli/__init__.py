"""Command-line interface: ``medtrust <job> <command> ...`` (see ``medtrust --help``)."""
