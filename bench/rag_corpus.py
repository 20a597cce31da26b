"""The generated question set: PDFs with facts on known pages, and paraphrased questions.

`build(seed)` fills the templates of `rag_facts.py` with values drawn from a seeded generator,
spreads each document's facts over its pages at random (facts of one kind about different
entities land on different pages, so a question must match its entity, not only its topic),
pads every page with sentences on the same subject that answer nothing, and renders each
document as a born-digital PDF with fpdf2 (a real text layer, as a user's export would have).
Every phrasing of every fact's question is one `Question`, whose answer is on one page.
"""

import random
import string
from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF

from bench.rag_facts import DOCUMENTS, DocumentSpec, Kind

__all__ = ["Corpus", "Question", "build"]

PEOPLE = ("Maria Jensen", "Tomasz Kowalski", "Aisha Rahman", "Pedro Alvarez", "Ingrid Holm",
          "Kenji Watanabe", "Chloe Martin", "Samuel Okafor", "Lena Fischer", "Rui Costa")  # fmt: skip
MONTHS = ("March", "April", "May", "June", "September", "October")

# Values per slot, drawn per fact; `n` depends on the kind of fact.
N_RANGES = {
    "headcount": (80, 900), "area": (4_000, 60_000), "fleet": (120, 600), "emissions": (3, 30),
    "flow": (90, 2_400), "pressure": (6, 40), "weight": (18, 340), "power": (2, 75),
    "seal": (2_000, 12_000), "warranty": (2, 6), "noise": (58, 82), "speed": (20, 40),
    "bridge": (4, 18), "leave": (24, 32), "parental": (12, 26), "remote": (2, 4),
    "probation": (3, 6), "meals": (28, 60), "notice": (4, 12), "learning": (800, 3_000),
}  # fmt: skip


@dataclass(frozen=True)
class Question:
    text: str
    document: str
    page: int
    """1-based page holding the answer."""
    kind: str
    fact: str
    """The sentence on that page that answers it."""


@dataclass(frozen=True)
class Corpus:
    pdfs: dict[str, bytes]
    """Document name → PDF bytes."""
    questions: list[Question]


def _values(kind: Kind, entity: dict[str, str], rng: random.Random, used_people: set[str]) -> dict[str, str]:
    low, high = N_RANGES.get(kind.name, (1, 100))
    n = rng.randint(low, high)
    person = ""
    if any("{person}" in text for text in kind.statements):  # a different person for each fact
        person = rng.choice([p for p in PEOPLE if p not in used_people])
        used_people.add(person)
    return {
        **entity,
        "n": f"{n:,}",
        "m": str(rng.randint(3, n // 3)) if kind.name == "fleet" else str(rng.randint(5, 14)),
        "y": str(rng.randint(15, 30)),
        "pct": str(rng.randint(3, 30)),
        "year": str(rng.randint(1988, 2021)),
        "person": person,
        "amount": f"{rng.randint(2, 90) * 25_000:,}",
        "date": f"{rng.randint(1, 28)} {rng.choice(MONTHS)} 2026",
        "a": str(rng.randint(-20, 5)),
        "b": str(rng.randint(60, 110)),
    }


def _facts(spec: DocumentSpec, rng: random.Random) -> list[tuple[Kind, str, list[str]]]:
    """(kind, stated sentence, questions) for every fact of the document."""
    facts = []
    used_people: set[str] = set()
    for kind in spec.kinds:
        entities = spec.entities.get(kind.entities, ("",)) if kind.entities else ("",)
        for value in entities:
            slots = _values(kind, {kind.entities: value} if kind.entities else {}, rng, used_people)
            fill = string.Formatter().vformat
            statement = fill(rng.choice(kind.statements), (), slots)
            facts.append((kind, statement, [fill(q, (), slots) for q in kind.questions]))
    return facts


def _pages(spec: DocumentSpec, rng: random.Random) -> tuple[list[list[str]], list[Question]]:
    facts = _facts(spec, rng)
    rng.shuffle(facts)
    pages: list[list[str]] = [[] for _ in range(spec.pages)]
    questions = []
    for number, (kind, statement, asked) in enumerate(facts):
        page = number % spec.pages
        pages[page].append(statement)
        questions += [Question(q, spec.name, page + 1, kind.name, statement) for q in asked]
    for sentences in pages:  # facts among 14 to 20 sentences that answer nothing
        sentences += rng.sample(spec.filler, rng.randint(14, 20))
        rng.shuffle(sentences)
    return pages, questions


def _pdf(spec: DocumentSpec, pages: list[list[str]]) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=False)
    for number, sentences in enumerate(pages, start=1):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 13)
        pdf.multi_cell(0, 8, f"{spec.title}\nSection {number}", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        pdf.set_font("Helvetica", size=11)
        for start in range(0, len(sentences), 6):  # paragraphs of six sentences
            paragraph = sentences[start : start + 6]
            pdf.multi_cell(0, 6, " ".join(paragraph), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        pdf.set_y(-20)
        pdf.set_font("Helvetica", size=9)
        pdf.cell(0, 6, f"Page {number} of {len(pages)}", align="C")
    return bytes(pdf.output())


def build(seed: int = 14) -> Corpus:
    rng = random.Random(seed)
    pdfs: dict[str, bytes] = {}
    questions: list[Question] = []
    for spec in DOCUMENTS:
        pages, asked = _pages(spec, rng)
        pdfs[spec.name] = _pdf(spec, pages)
        questions += asked
    return Corpus(pdfs, questions)


def write(corpus: Corpus, directory: Path) -> None:
    """The PDFs and the questions (questions.tsv: document, page, question) for a person to read."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in corpus.pdfs.items():
        (directory / f"{name}.pdf").write_bytes(data)
    rows = [f"{q.document}\t{q.page}\t{q.text}\t{q.fact}" for q in corpus.questions]
    (directory / "questions.tsv").write_text(
        "document\tpage\tquestion\tanswered by\n" + "\n".join(rows) + "\n"
    )
