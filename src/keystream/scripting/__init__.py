"""Redis scripting: a Lua 5.1 sandbox (sandbox.py), reply conversion (convert.py), the bundled
Lua libraries (libs/) and the server-side engine that runs scripts and functions (runner.py)."""
