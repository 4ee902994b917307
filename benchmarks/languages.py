"""Speed of each language profile: cold load time and answers analysed per second.

For each profile, a fresh Python process (so that no other analyser is loaded) times

* **cold**: importing ``grader.text.analysis`` and analysing the first answer (the analyser's
  dictionaries and models load here);
* **answers/s**: analysing the other answers, each a new text (the analysis cache never hits).

Answers: real student answers where a data set in ../shared/datasets has the language (English:
Mohler; German: SAF; Portuguese: PT-ASAG; Chinese: SAS-ADS), else answers built from the sample
sentences below (each a different combination of three of them).

``--detection`` instead counts the languages ``detect_language`` finds for the answers of the
Latin-script data sets (English: Mohler, SemEval-2013, SAF English; German: SAF; Portuguese:
PT-ASAG) in a bank of their own language and in a bank of another one. Run from the repository
root:

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/languages.py [--answers N] [--only de zh ...]
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/languages.py --detection
"""

from __future__ import annotations

import argparse
import csv
import glob
import itertools
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.text.languages import PROFILED_LANGUAGES  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"

SAMPLES = {
    "fr": [
        "Le modèle n'utilise pas la récurrence.",
        "L'attention permet de lire toute la phrase.",
        "Les encodeurs apprennent des représentations bidirectionnelles.",
        "Le décodeur génère le texte mot par mot, sans regarder les mots futurs.",
        "Ce n'est pas seulement une question de taille.",
        "Les réseaux de neurones apprennent à partir des données.",
    ],
    "es": [
        "El modelo no usa recurrencia.",
        "La atención permite leer toda la frase.",
        "Los codificadores aprendieron representaciones bidireccionales.",
        "El decodificador genera el texto palabra por palabra, sin mirar las palabras futuras.",
        "No solo es una cuestión de tamaño.",
        "Las redes neuronales aprenden a partir de los datos.",
    ],
    "it": [
        "Il modello non usa la ricorrenza.",
        "L'attenzione permette di leggere tutta la frase.",
        "Gli encoder imparano rappresentazioni bidirezionali.",
        "Il decoder genera il testo parola per parola, senza guardare le parole future.",
        "Non è solo una questione di dimensioni.",
        "Le reti neurali imparano dai dati.",
    ],
    "nl": [
        "Het model gebruikt geen recurrentie.",
        "Aandacht maakt het mogelijk de hele zin te lezen.",
        "Encoders leren bidirectionele representaties.",
        "De decoder genereert de tekst woord voor woord, zonder naar latere woorden te kijken.",
        "Zuurstofbelletjes gaan via de longblaasjes naar het bloed.",
        "Neurale netwerken leren van de gegevens.",
    ],
    "pl": [
        "Model nie używa rekurencji.",
        "Uwaga pozwala czytać całe zdanie.",
        "Enkodery uczą się dwukierunkowych reprezentacji.",
        "Dekoder generuje tekst słowo po słowie, bez patrzenia na przyszłe słowa.",
        "To nie tylko kwestia rozmiaru.",
        "Sieci neuronowe uczą się na podstawie danych.",
    ],
    "tr": [
        "Model yineleme kullanmaz.",
        "Dikkat mekanizması tüm cümleyi okumayı sağlar.",
        "Kodlayıcılar çift yönlü temsiller öğrenir.",
        "Kod çözücü metni kelime kelime üretir, gelecekteki kelimelere bakmaz.",
        "Bu sadece bir boyut meselesi değil.",
        "Sinir ağları verilerden öğrenir.",
    ],
    "sv": [
        "Modellen använder inte rekursion.",
        "Uppmärksamhet gör det möjligt att läsa hela meningen.",
        "Kodarna lär sig dubbelriktade representationer.",
        "Avkodaren genererar texten ord för ord, utan att titta på framtida ord.",
        "Syrebubblorna går via lungblåsorna till blodet.",
        "Neurala nätverk lär sig av data.",
    ],
    "ru": [
        "Модель не использует рекуррентность.",
        "Внимание позволяет читать всё предложение.",
        "Кодировщики обучаются двунаправленным представлениям.",
        "Декодер порождает текст слово за словом, без будущих слов.",
        "Дело не только в размере.",
        "Нейронные сети учатся на данных.",
    ],
    "ko": [
        "모델은 순환 구조를 사용하지 않는다.",
        "어텐션은 문장 전체를 읽게 해 준다.",
        "인코더는 양방향 표현을 학습한다.",
        "디코더는 미래 단어를 보지 않고 단어를 하나씩 생성한다.",
        "크기만의 문제가 아니다.",
        "신경망은 데이터로부터 학습한다.",
    ],
    "ja": [
        "モデルは再帰を使わない。",
        "アテンションで文全体を読むことができる。",
        "エンコーダーは双方向の表現を学習する。",
        "デコーダーは未来の単語を見ずに単語を一つずつ生成する。",
        "大きさだけの問題ではない。",
        "ニューラルネットワークはデータから学習する。",
    ],
    "ar": [
        "لا يستخدم النموذج التكرار.",
        "يسمح الانتباه بقراءة الجملة كاملة.",
        "تتعلم المشفرات تمثيلات ثنائية الاتجاه.",
        "يولد فك التشفير النص كلمة بكلمة، دون النظر إلى الكلمات المستقبلية.",
        "ليس الأمر مسألة حجم فقط.",
        "تتعلم الشبكات العصبية من البيانات.",
    ],
    "th": [
        "แบบจำลองไม่ได้ใช้การวนซ้ำ",
        "กลไกความสนใจช่วยให้อ่านทั้งประโยคได้",
        "ตัวเข้ารหัสเรียนรู้การแทนแบบสองทิศทาง",
        "ตัวถอดรหัสสร้างข้อความทีละคำ โดยไม่มองคำในอนาคต",
        "ออกซิเจนถูกดูดซึมในถุงลม",
        "โครงข่ายประสาทเรียนรู้จากข้อมูล",
    ],
}

_CHILD = """
import json, sys, time
texts = json.loads(sys.stdin.read())
start = time.perf_counter()
from grader.text.analysis import analyze  # noqa: E402
analyze(texts[0], {code!r})
cold = time.perf_counter() - start
start = time.perf_counter()
for text in texts[1:]:
    analyze(text, {code!r})
warm = time.perf_counter() - start
print(json.dumps({{"cold": cold, "seconds": warm, "answers": len(texts) - 1,
                   "characters": sum(len(t) for t in texts[1:])}}))
"""


def answers(code: str, count: int) -> list[str]:
    """``count`` distinct answers in ``code``."""
    found = _dataset_answers(code)
    if not found:
        sentences = SAMPLES[code]
        found = [" ".join(trio) for trio in itertools.permutations(sentences, 3)]
    unique = list(dict.fromkeys(text for text in found if text.strip()))
    return unique[:count]


def _dataset_answers(code: str) -> list[str]:
    if code == "en":
        path = DATASETS / "mohler" / "mohler_dataset_edited.csv"
        if path.is_file():
            with path.open(encoding="utf-8", errors="replace") as handle:
                return [row["student_answer"] for row in csv.DictReader(handle)]
    if code == "de":
        files = sorted(glob.glob(str(DATASETS / "saf-train" / "german" / "*.xml")))
        return [
            element.findtext("response") or ""
            for file in files
            for element in ET.parse(file).getroot().iter("studentAnswer")
        ]
    if code == "pt":
        path = DATASETS / "pt-asag-2018" / "student_answers_and_grades_v2.csv"
        if path.is_file():
            with path.open(encoding="utf-8") as handle:
                return [row["answer_text"] for row in csv.DictReader(handle)]
    if code == "zh":
        path = DATASETS / "sas-ads-zh-train" / "train.jsonl"
        if path.is_file():
            with path.open(encoding="utf-8") as handle:
                return [json.loads(line)["answer"] for line in handle]
    return []


def measure(code: str, texts: Sequence[str]) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", _CHILD.format(code=code)],
        input=json.dumps(list(texts)),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    found: dict[str, float] = json.loads(result.stdout)
    return found


def _detection_sets() -> list[tuple[str, str, list[str]]]:
    sets = [("mohler", "en", _dataset_answers("en"))]
    semeval = sorted(glob.glob(str(DATASETS / "semeval2013-2way-train" / "*" / "*.xml")))
    sets.append(
        (
            "semeval-2013",
            "en",
            [e.text or "" for f in semeval for e in ET.parse(f).getroot().iter("studentAnswer")],
        )
    )
    saf_en = sorted(glob.glob(str(DATASETS / "saf-train" / "english" / "*.xml")))
    sets.append(
        (
            "saf-english",
            "en",
            [
                e.findtext("response") or ""
                for f in saf_en
                for e in ET.parse(f).getroot().iter("studentAnswer")
            ],
        )
    )
    sets.append(("saf-german", "de", _dataset_answers("de")))
    sets.append(("pt-asag", "pt", _dataset_answers("pt")))
    return [(name, code, texts) for name, code, texts in sets if texts]


def detection() -> None:
    from collections import Counter

    from grader.text.scripts import detect_language

    print("| answers      | written in | bank language | n      | detected as                 |")
    print("|--------------|------------|---------------|--------|-----------------------------|")
    for name, code, texts in _detection_sets():
        letters = [text for text in texts if any(ch.isalpha() for ch in text)]
        for bank in (code, "de" if code == "en" else "en"):
            found = Counter(detect_language(text, (bank,)) for text in letters)
            shown = ", ".join(f"{lang} {count}" for lang, count in found.most_common())
            print(f"| {name:<12} | {code:<10} | {bank:<13} | {len(letters):>6} | {shown:<27} |")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=500, help="answers per language")
    parser.add_argument("--only", nargs="*", default=None, choices=PROFILED_LANGUAGES)
    parser.add_argument("--detection", action="store_true", help="count detected languages")
    args = parser.parse_args(argv)
    if args.detection:
        detection()
        return 0
    print("| language | answers from       |     n | chars/answer | cold s | answers/s |")
    print("|----------|--------------------|-------|--------------|--------|-----------|")
    for code in args.only or PROFILED_LANGUAGES:
        texts = answers(code, args.answers + 1)
        source = "data set" if _dataset_answers(code) else "sample sentences"
        found = measure(code, texts)
        rate = found["answers"] / found["seconds"] if found["seconds"] else float("inf")
        per_answer = found["characters"] / max(found["answers"], 1)
        print(
            f"| {code:<8} | {source:<18} | {int(found['answers']):>5} | {per_answer:>12.0f} "
            f"| {found['cold']:>6.2f} | {rate:>9.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
