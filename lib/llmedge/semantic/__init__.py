"""Semantic cache on plain Upstash Redis: embedders, the LSH index scored in Lua, near-miss guards.

The gateway imports `llmedge.semantic.cache` only when a request asks for semantic caching; nothing here
imports numpy or a model at import time. Entry point: `llmedge.semantic.cache.SemanticCache`.
"""
