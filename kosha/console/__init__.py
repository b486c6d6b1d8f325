"""The web console at `/console`: static pages served from the package, and its sign-in routes.

The browser talks to the real KOS API with the session cookie this package sets; see
docs/console.md for the security model.
"""
