"""`rag eval`: measure retrieval and answer quality on a labelled dataset, every mode side by side."""
