import os

if __name__ == "__main__":
    # One BLAS thread: searches run side by side (one per RPC call) next to the embedder's own
    # threads, and a spinning multi-threaded matrix-vector product only steals their cores.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

    from services.rag.app import create_app
    from services.rag.settings import RagSettings
    from shared.runtime import run_service

    run_service("rag", RagSettings(), create_app)
