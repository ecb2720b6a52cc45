"""The built-in plugins, one module per entry point of the ``ganbench`` group
(pyproject.toml): registered exactly as a third party's plugins are."""
