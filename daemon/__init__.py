"""Kokoro Inbox: EPUB books in, chaptered MP3 audiobooks out, read by Kokoro-82M."""

__version__ = "0.1.0"
