"""``python -m league`` runs the CLI."""

from league.cli import main

main()
