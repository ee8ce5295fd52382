"""Storage: the database, its migrations, and the stores of configs, tokens and sync state."""
