"""The three functions (/api/generate, /api/callback, /api/result) as Starlette handlers."""
