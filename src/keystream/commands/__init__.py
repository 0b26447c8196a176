"""Redis commands: the registry and one module per command family (mirrors Redis's t_*.c)."""
