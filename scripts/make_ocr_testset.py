"""Write the generated OCR test set to a directory: `python scripts/make_ocr_testset.py DIR`.

Each file gets a `.txt` beside it with the expected text (pages separated by form feeds);
the bad files get a `.code` with the error code their job must end with.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support import ocr_samples


def main(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    samples = [
        *ocr_samples.clean_renders(),
        *ocr_samples.image_formats(),
        ocr_samples.scanned_pdf(),
        ocr_samples.born_digital_pdf(),
        ocr_samples.mixed_pdf(),
    ]
    for sample in samples:
        (target / sample.name).write_bytes(sample.data)
        (target / f"{sample.name}.txt").write_text("\n\f".join(sample.pages))
    for name, (code, data) in ocr_samples.bad_files().items():
        (target / name).write_bytes(data)
        (target / f"{name}.code").write_text(code)
    print(f"{len(samples)} samples and {len(ocr_samples.bad_files())} bad files in {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "build/ocr-testset"))
