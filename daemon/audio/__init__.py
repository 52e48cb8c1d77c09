"""The audiobook's files: the output formats (``formats``: one ``AudioFormat`` each), their
writers and tags, loudness, covers, and where a finished book's files go (``placement``,
``library``: flat, Audiobookshelf's folders, one file per chapter).

``book_audio.BookAudio`` turns a book's checkpoints into its files, block by block.
Nothing here knows the model: it works on 24 kHz PCM (``formats.SAMPLE_RATE``).
"""
