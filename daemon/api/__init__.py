"""The HTTP side: the REST API (the original Kokoro TTS API's endpoints and more), uploads,
the podcast feed, the OpenAPI description and the page, served by cheroot with a guard.

It reads the jobs through ``daemon.status`` and talks to the daemon only through
``daemon.mailbox``, so it runs inside the daemon or on its own over the same folders.
"""
