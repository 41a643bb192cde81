"""``python -m youtu_embedding.core.cli ...`` runs ``youtu-embed ...``."""

from youtu_embedding.core.cli.app import main

main()
