"""Reading an EPUB: the archive and its package, the catalogue data (``metadata``), the text
of each document (``text``, ``notes``, ``tables``) and the chapters a listener hears.

``epub.read_book`` is the entry point; it knows nothing of speech or audio.
"""
