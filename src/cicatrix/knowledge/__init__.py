"""The knowledge base: versioned clinical data files, their models, and the loader."""
