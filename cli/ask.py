"""`jobs ask COLLECTION "question"`: a `rag.ask` job whose answer is printed as it streams.

The rag service puts the answer so far in each progress event's message; this prints what
each one adds, then the sources the answer cites ([1], [2], ... in their order)."""

import sys
from typing import Any, TextIO

from cli.client import JobsClient

__all__ = ["AnswerPrinter", "ask", "print_sources"]


class AnswerPrinter:
    """Prints only what is new; an answer that does not extend what was printed (never
    expected) is printed again whole on a new line."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.printed = ""

    def show(self, text: str) -> None:
        if not text or text == self.printed:
            return
        if text.startswith(self.printed):
            self.stream.write(text[len(self.printed) :])
        else:
            self.stream.write(("\n" if self.printed else "") + text)
        self.stream.flush()
        self.printed = text


def ask(
    client: JobsClient, collection: str, question: str, top_k: int, stream: TextIO = sys.stdout
) -> dict[str, Any]:
    """Submit the question, stream the answer to `stream`; return the job's final state."""
    job = client.submit("rag.ask", {"collection": collection, "question": question, "top_k": top_k}, None)
    printer = AnswerPrinter(stream)
    for event in client.events(job["id"]):
        if event.type == "progress":
            printer.show(str(event.data.get("message") or ""))
        elif event.type == "snapshot":
            printer.show(str((event.data.get("progress") or {}).get("message") or ""))
    final = client.get(job["id"])
    if final["status"] == "succeeded":
        printer.show(final["result"]["answer"])
        if printer.printed:
            stream.write("\n")
    return final


def print_sources(result: dict[str, Any], stream: TextIO) -> None:
    label = (
        " (extractive: no LLM configured, this is the best passage)"
        if result["method"] == "extractive"
        else ""
    )
    stream.write(f"\nsources{label}:\n")
    for number, source in enumerate(result["sources"], 1):
        excerpt = " ".join(source["text"].split())
        excerpt = excerpt if len(excerpt) <= 100 else excerpt[:99] + "…"
        where = f"file {source['file_id']} page {source['page']}"
        stream.write(f"[{number}] {where} (score {source['score']:.2f}): {excerpt}\n")
