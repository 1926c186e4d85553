"""Local stand-ins for Upstash Redis (REST), QStash and an OpenAI-compatible model API.

Used by `llmedge dev` and by the integration tests; faithful enough that the official Python SDKs work
against them unchanged. Never imported by the deployed functions.
"""
