"""The gateway's MCP server: each user's synced data served to AI assistants."""
