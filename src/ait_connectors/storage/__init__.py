"""Storage: the database, its migrations and the stores of configs, tokens, states and sync state."""
