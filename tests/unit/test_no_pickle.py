"""Model files cannot run code: only ONNX, SentencePiece and JSON are read, nothing is unpickled."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Ways Python code gets run from data.
UNSAFE = re.compile(
    r"\bpickle\b|\bcPickle\b|\bdill\b|\bjoblib\b|\bmarshal\b|torch\.load|allow_pickle\s*=\s*True"
    r"|(?<![.\w])eval\(|(?<![.\w])exec\(|yaml\.load\(|yaml\.unsafe_load|trust_remote_code\s*=\s*True"
)


def test_no_library_module_can_unpickle_or_evaluate() -> None:
    found = []
    for package in ("annotators", "pipelines"):
        for file in sorted((ROOT / package).rglob("*.py")):
            for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
                if UNSAFE.search(line):
                    found.append(f"{file.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []


def test_the_scan_catches_what_it_looks_for() -> None:
    for line in ("import pickle", "torch.load(path)", "np.load(f, allow_pickle=True)",
                 "yaml.load(text)", "eval(code)", "from_pretrained(x, trust_remote_code=True)"):  # fmt: skip
        assert UNSAFE.search(line), line


GUARDED = """
import pickle, sys

def refuse(*args, **kwargs):
    raise AssertionError("something tried to unpickle")

class RefusingUnpickler(pickle.Unpickler):
    def load(self):
        refuse()

pickle.load = pickle.loads = refuse
pickle.Unpickler = RefusingUnpickler

from annotators import nlu
from annotators.deberta.pretrained import load_model_folder
folder = sys.argv[1]
load_model_folder(folder)
frame = nlu.load(folder).predict(["Hello world. 안녕하세요!", None, ""])
assert len(frame) > 0
classified = nlu.load(sys.argv[2]).predict(["정말 좋은 하루였어요."])
assert len(classified) == 1
print("ok")
"""


def test_loading_and_running_models_never_unpickles() -> None:
    model = ROOT / "annotators" / "deberta" / "bundled" / "deberta_v3_tiny_random_en"
    classifier = ROOT / "tests" / "fixtures" / "models" / "deberta_v3_tiny_ko_classifier"
    done = subprocess.run(
        [sys.executable, "-c", GUARDED, str(model), str(classifier)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")
