"""private-rag core: configuration, types, errors, embedding, storage and retrieval."""

__version__ = "0.1.0"
