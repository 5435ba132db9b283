"""Ingestion: parse files, chunk them, and keep the index in sync with the files on disk."""
