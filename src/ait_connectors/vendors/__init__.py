"""The built-in vendors. Each registers through the ``ait_connectors.vendors`` entry-point group
(``pyproject.toml``), the way a third-party package does; the registry is
:mod:`ait_connectors.registry`."""
