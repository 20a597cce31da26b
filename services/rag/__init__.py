"""The RAG worker: document collections (rag.index) and questions over them (rag.ask)."""
