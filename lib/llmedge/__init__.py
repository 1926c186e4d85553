"""llmedge: an AI gateway for HTTP-only serverless functions.

Caches model answers (exact and semantic) and rate-limits callers in Upstash Redis over REST, and hands
every model call to QStash with a callback, so no function ever waits for a model.
"""

__version__ = "0.1.0"
