"""``python -m ait_connectors`` runs the CLI."""

from .cli import main

main()
