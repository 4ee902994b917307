"""``grader serve``: the real server on a free loopback port, driven by HTTP and headless Chromium.

Two servers per run: one with the real packaged models and the shipped bank (the learner flows,
the API, attempts graded again by ``grader grade``), and one keywords-only with an access code,
a low rate limit, a short answer limit and ``--reveal none`` (the guards).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.load.loader import load_bank
from tests.conftest import ROOT, SEED_BANK

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "serve"
START_TIMEOUT_S = 240
KOREAN_ANSWER = "디코더 모델은 규모를 키울수록 성능이 좋아지는 확장 법칙을 따르고, 다음 토큰을 예측해 텍스트를 생성한다."
HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(1)> "><b onmouseover=alert(2)>x</b>'


@dataclass
class Server:
    url: str
    data: Path
    process: subprocess.Popen[str]
    log: Path

    def request(
        self,
        path: str,
        body: Any = None,
        *,
        method: str | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        sent = {"Content-Type": "application/json"} if body is not None else {}
        sent.update(headers or {})
        request = urllib.request.Request(self.url + path, data=data, headers=sent, method=method)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def check(self, body: dict[str, Any], **headers: str) -> tuple[int, dict[str, Any]]:
        status, _headers, text = self.request("/api/check", body, headers=headers)
        return status, json.loads(text)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_server(folder: Path, *options: str, bank: Path = SEED_BANK) -> Iterator[Server]:
    port = free_port()
    data = folder / "data"
    log = folder / "server.log"
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "grader", "serve", str(bank), "--port", str(port)]
    command.extend(["--data", str(data), *options])
    with open(log, "w", encoding="utf-8") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
            env=environment,
        )
    server = Server(f"http://127.0.0.1:{port}", data, process, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server stopped: {log.read_text(encoding='utf-8')}")
            with contextlib.suppress(OSError):
                status, _headers, _body = server.request("/healthz")
                if status == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not start: {log.read_text(encoding='utf-8')}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The shipped bank with the real packaged models."""
    with running_server(tmp_path_factory.mktemp("serve"), "--rate-limit", "1000") as started:
        yield started


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Keywords only, an access code, 5 checks a minute, 300 characters, nothing revealed."""
    with running_server(
        tmp_path_factory.mktemp("guarded"),
        "--model",
        "none",
        "--access-code",
        "owl-7-river",
        "--rate-limit",
        "5",
        "--max-answer",
        "300",
        "--reveal",
        "none",
    ) as started:
        yield started


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests: .ci/run installs chromium (make browser)")
        pytest.skip("/usr/bin/chromium is missing (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        yield launched
        launched.close()


class Learner:
    """A browser context (its own cookies) with every error, dialog and outside request kept."""

    def __init__(self, browser: Any, server: Server, language: str = "en") -> None:
        self.server = server
        self.context = browser.new_context(
            locale=language, extra_http_headers={"Accept-Language": language}
        )
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("dialog", self._dialog)
        self.page.on("request", self._request)

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def _dialog(self, dialog: Any) -> None:
        self.problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def _request(self, request: Any) -> None:
        if not request.url.startswith((self.server.url, "data:", "about:")):
            self.problems.append(f"outside request: {request.url}")

    def open(self, path: str) -> Any:
        self.page.goto(self.server.url + path, wait_until="load")
        return self.page

    def answer(self, text: str) -> Any:
        self.page.fill("textarea[name=answer]", text)
        self.page.click("form.answer-form button[type=submit]")
        self.page.wait_for_load_state("load")
        return self.page

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def close(self) -> list[str]:
        self.context.close()
        return self.problems


# ---------------------------------------------------------------- learners in the browser


def test_a_korean_learner_answers_in_korean_and_reads_korean_feedback(browser, server) -> None:
    learner = Learner(browser, server, "ko-KR")
    page = learner.open("/")
    assert page.get_attribute("html", "lang") == "ko"
    assert "답안을 스스로 확인해 보세요" in page.inner_text("h1")
    page.click("a[href='/b/transformer-triad/decoder-shift']")
    assert "업계가 BERT 계열 인코더에서" in page.inner_text(".prompt")
    learner.answer(KOREAN_ANSWER)
    result = page.inner_text("#result")
    assert "피드백" in result and "충족" in result
    assert "맞습니다. 디코더는 규모를 키울수록 꾸준히 좋아집니다." in result  # the rubric's Korean
    assert "생성" in result or "다음 토큰" in result
    # the question's hint after an attempt below full marks, in Korean; the attempt is listed
    assert "힌트" in result and "디코더가 무엇을 하도록 학습되는지" in result
    assert "나의 시도" in page.inner_text("main") and KOREAN_ANSWER in page.inner_text("table")
    assert not re.search(r"\b(Score|Met|Missing|Feedback|Criteria)\b", page.inner_text("main"))
    learner.screenshot("korean-feedback")
    # the switcher changes the interface language
    page.click("nav.languages a[lang=ja]")
    assert page.get_attribute("html", "lang") == "ja" and "解答を確認する" in page.inner_text(
        "form"
    )
    assert learner.close() == []


def test_a_challenge_step_by_step(browser, server) -> None:
    learner = Learner(browser, server)
    page = learner.open("/b/transformer-triad/long-doc")
    assert page.locator("a.next").inner_text().startswith("Start with step 1")
    page.click("a.next")
    assert page.url.endswith("/b/transformer-triad/long-doc/bottleneck")
    assert page.locator("a.next").count() == 0  # no next step before this one is tried
    learner.answer(
        "The encoder must process the whole long document, and the decoder cross-attends to "
        "all of it at every output step, so cost grows with the input length."
    )
    assert "Feedback" in page.inner_text("#result")
    page.click("a.next")
    assert page.url.endswith("/b/transformer-triad/long-doc/scaling")
    assert "Challenge total" not in page.inner_text("main")
    learner.answer(
        "A decoder-only model reuses its KV cache and processes input and output as one "
        "sequence, and it scales better with FlashAttention."
    )
    main = page.inner_text("main")
    total = re.search(r"Challenge total: ([\d.]+) / 6", main)
    assert total is not None, main
    steps = [float(s) for s in re.findall(r"([\d.]+) / 3", page.inner_text("nav .steps-nav"))]
    assert len(steps) == 2 and float(total.group(1)) == pytest.approx(sum(steps), abs=1e-9)
    learner.screenshot("challenge-total")
    assert learner.close() == []


def test_a_hostile_answer_comes_back_inert(browser, server) -> None:
    learner = Learner(browser, server)
    page = learner.open("/b/transformer-triad/text-to-text")
    learner.answer(HOSTILE)
    assert page.locator("img").count() == 0 and page.locator("main b").count() == 0
    assert page.evaluate("document.scripts.length") == 0
    assert HOSTILE in page.inner_text("table.attempts")  # shown literally
    assert page.input_value("textarea[name=answer]") == HOSTILE
    html = page.content()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert learner.close() == []  # no dialog, no error


def test_pages_have_a_strict_policy_and_no_script(server) -> None:
    status, headers, body = server.request("/")
    assert status == 200
    policy = headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy  # no script at all
    assert "style-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    assert b"<script" not in body and b" style=" not in body
    css_status, css_headers, _css = server.request("/static/grader.css")
    assert css_status == 200 and css_headers["content-type"].startswith("text/css")


def test_a_form_without_its_token_is_refused(server) -> None:
    status, _headers, body = server.request(
        "/b/transformer-triad/text-to-text",
        raw=b"answer=T5",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 403 and b"This form has expired" in body
    assert b"Traceback" not in body


# ---------------------------------------------------------------- the JSON API


def keyword_terms() -> set[str]:
    """The rubrics' keyword terms that no student-visible text of the bank contains."""
    bank = load_bank(SEED_BANK)
    visible: list[str] = []
    terms: set[str] = set()
    for gradable in bank.gradables().values():
        visible.extend(gradable.prompt.by_language.values())
        visible.extend(text for _language, text in gradable.model_answers())
        visible.extend(gradable.hint.by_language.values())
        rubric = gradable.rubric
        for criterion in rubric.criteria if rubric else ():
            visible.append(criterion.id)  # a criterion's id is its name for students
            for text in (criterion.feedback_met, criterion.feedback_missed, criterion.concept):
                visible.extend(text.by_language.values())
            visible.extend(criterion.hint.by_language.values())
            for groups in criterion.keywords.by_language.values():
                terms.update(str(term) for group in groups for term in group.terms)
        for misconception in rubric.misconceptions if rubric else ():
            visible.extend(misconception.feedback.by_language.values())
    everything = "\n".join(visible).casefold()
    return {term for term in terms if len(term) > 3 and term.casefold() not in everything}


def test_check_answers_the_documented_json(server) -> None:
    status, document = server.check(
        {
            "bank": "transformer-triad",
            "question": "text-to-text",
            "answer": "T5입니다. 인코더-디코더 구조예요.",
        }
    )
    assert status == 200, document
    assert set(document) >= {
        "bank",
        "question",
        "attempt",
        "score",
        "points",
        "language",
        "criteria",
        "misconceptions",
        "feedback",
        "hint",
        "model_answers",
    }
    assert document["question"] == "text-to-text" and document["points"] == 2
    assert document["language"] == "ko" and document["score"] == 2
    assert [c["id"] for c in document["criteria"]] == ["model", "architecture"]
    assert all(c["met"] for c in document["criteria"])
    assert document["criteria"][0]["feedback"] == "정답입니다. 텍스트-투-텍스트 모델은 T5입니다."
    assert document["model_answers"] == []  # the bank's reveal policy is "missed"
    step_status, step = server.check(
        {
            "bank": "transformer-triad",
            "question": "long-doc/scaling",
            "answer": "KV cache",
            "language": "en",
        }
    )
    assert (
        step_status == 200 and step["question"] == "long-doc/scaling" and step["language"] == "en"
    )
    openapi = json.loads(server.request("/api/openapi.json")[2])
    assert "/api/check" in openapi["paths"]
    assert "CheckResponse" in json.dumps(openapi)


def test_no_response_reveals_the_rubrics_keywords(server) -> None:
    hidden = keyword_terms()
    assert len(hidden) > 20  # the control: there are keywords that must stay hidden
    answers = [
        ("decoder-shift", "Because GPT is better."),
        ("decoder-shift", KOREAN_ANSWER),
        ("mlm-vs-ntp", "BERT fills masked words; GPT predicts the next token."),
        ("kv-cache-vram", "12 GB"),
        ("long-doc/bottleneck", "memory"),
    ]
    texts = []
    for question, answer in answers:
        status, document = server.check(
            {"bank": "transformer-triad", "question": question, "answer": answer}
        )
        assert status == 200
        texts.append(json.dumps(document, ensure_ascii=False))
        question_page = "/b/transformer-triad/" + question
        texts.append(server.request(question_page)[2].decode("utf-8"))
    everything = "\n".join(texts).casefold()
    leaked = sorted(term for term in hidden if term.casefold() in everything)
    assert leaked == []
    assert '"groups"' not in everything and '"keywords"' not in everything


@pytest.mark.parametrize(
    ("body", "status", "message", "listed"),
    [
        ({"bank": "nope", "question": "q", "answer": "x"}, 404, "unknown bank 'nope'", "banks"),
        (
            {"bank": "transformer-triad", "question": "nope", "answer": "x"},
            404,
            "unknown question 'nope' in bank 'transformer-triad'",
            "questions",
        ),
        (
            {"bank": "transformer-triad", "question": "long-doc", "answer": "x"},
            404,
            "'long-doc' is a challenge: check one of its steps",
            "questions",
        ),
    ],
)
def test_unknown_banks_and_questions_list_what_exists(
    server, body, status, message, listed
) -> None:
    got_status, document = server.check(body)
    assert got_status == status and document["error"] == message
    assert "transformer-triad" in document[listed] or "long-doc/bottleneck" in document[listed]


def test_malformed_requests_get_a_clear_400(server) -> None:
    status, _headers, body = server.request(
        "/api/check", raw=b"{bank", headers={"Content-Type": "application/json"}
    )
    assert status == 400
    assert json.loads(body)["error"].startswith("malformed request: the body is not valid JSON")
    status, document = server.check({"bank": "transformer-triad", "answer": "x"})
    assert status == 400 and document["error"] == "malformed request: question: Field required"
    assert document["expected"]["question"] == "ID or question/step"
    status, _headers, body = server.request(
        "/api/check",
        raw=b'{"bank": "transformer-triad", "question": "text-to-text", "answer": "T5"}',
        headers={"Content-Type": "text/plain"},
    )
    assert status == 415 and json.loads(body)["error"] == "send the request as application/json"


# ---------------------------------------------------------------- what a class tried, graded again


def test_attempts_graded_by_grader_grade_give_the_scores_learners_saw(server, tmp_path) -> None:
    tried = [
        (
            "ann",
            "decoder-shift",
            "GPT generates text by predicting the next token; decoders follow scaling laws and "
            "large ones solve new tasks zero-shot from a prompt.",
            None,
        ),
        ("ann", "decoder-shift", "I do not know.", None),  # worse: --best and --last differ
        ("bo", "decoder-shift", KOREAN_ANSWER, None),
        (
            "bo",
            "mlm-vs-ntp",
            "BERT는 가려진 단어를 양쪽 문맥으로 맞히고 GPT는 다음 토큰을 예측한다.",
            "ko",
        ),
        ("bo", "long-doc/bottleneck", "Кодировщик должен обработать весь длинный документ.", None),
        ("cy", "kv-cache-vram", "About 12.5 GB", None),
    ]
    seen: dict[tuple[str, str], list[float]] = {}
    for name, question, answer, language in tried:
        body = {"bank": "transformer-triad", "question": question, "answer": answer}
        if language:
            body["language"] = language
        status, document = server.check(body, **{"X-Learner": name})
        assert status == 200, document
        seen.setdefault((name, question), []).append(document["score"])
    for pick in ("last", "best"):
        submissions = tmp_path / f"{pick}.csv"
        result = CliRunner().invoke(
            cli,
            ["attempts", str(server.data), "--out", str(submissions), f"--{pick}"],
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        out = tmp_path / pick
        graded = CliRunner().invoke(
            cli,
            ["grade", str(SEED_BANK), str(submissions), "--out", str(out)],
            catch_exceptions=False,
        )
        assert graded.exit_code == 0, graded.output
        results = json.loads((out / "results.json").read_text(encoding="utf-8"))
        scores = {
            (student["id"], answer["id"]): answer["score"]
            for student in results["students"]
            for question in student["questions"]
            for answer in question["answers"]
            if answer["answered"]
        }
        for (name, question), shown in seen.items():
            wanted = shown[-1] if pick == "last" else max(shown)
            assert round(scores[(name, question)], 2) == pytest.approx(wanted, abs=1e-9), (
                pick,
                name,
                question,
            )
    assert seen[("ann", "decoder-shift")][0] > seen[("ann", "decoder-shift")][1]  # the control


# ---------------------------------------------------------------- the guards


def test_the_access_code_is_required_when_set(browser, guarded) -> None:
    learner = Learner(browser, guarded)
    page = learner.open("/b/transformer-triad/text-to-text")
    assert page.url == guarded.url + "/access"
    page.fill("#code", "wrong-code")
    page.click("form button[type=submit]")
    assert "That code is not right" in page.inner_text("main")
    page.fill("#code", "owl-7-river")
    page.click("form button[type=submit]")
    assert page.url == guarded.url + "/" and "Check your answers" in page.inner_text("h1")
    page = learner.open("/b/transformer-triad/text-to-text")
    learner.answer("T5 is an encoder-decoder model.")
    assert "Feedback" in page.inner_text("#result")
    problems = learner.close()
    assert problems == [
        "console error: Failed to load resource: the server responded with a status of 403 (Forbidden)"
    ]  # the wrong code
    status, document = guarded.check(
        {"bank": "transformer-triad", "question": "text-to-text", "answer": "T5"}
    )
    assert status == 401 and "X-Access-Code" in document["error"]
    status, _headers, _body = guarded.request("/")
    assert status == 200  # urllib followed the redirect to the access page
    log = guarded.log.read_text(encoding="utf-8")
    assert "owl-7-river" not in log


def test_reveal_none_hides_missed_criteria(guarded) -> None:
    status, document = guarded.check(
        {"bank": "transformer-triad", "question": "text-to-text", "answer": "It is BERT."},
        **{"X-Access-Code": "owl-7-river"},
    )
    assert status == 200, document
    missed = [c for c in document["criteria"] if not c["met"]]
    assert missed and all(c["id"] is None and c["feedback"] == "" for c in missed)
    assert missed[0]["name"].startswith("Criterion ")
    assert (
        document["hidden"] == len(missed) and document["hint"] == "" and document["feedback"] == ""
    )


def test_long_answers_and_bodies_get_413(guarded) -> None:
    code = {"X-Access-Code": "owl-7-river"}
    status, document = guarded.check(
        {"bank": "transformer-triad", "question": "text-to-text", "answer": "T5 " * 200}, **code
    )
    assert status == 413
    assert document["error"] == "the answer has 600 characters; at most 300 are checked"
    status, _headers, body = guarded.request(
        "/api/check", raw=b"x" * 300_000, headers={"Content-Type": "application/json", **code}
    )
    assert status == 413 and json.loads(body)["error"] == "the request is larger than 256 KiB"


def test_past_the_rate_limit_a_client_gets_429(guarded) -> None:
    """Runs last among the guarded server's tests: it spends the client's checks."""
    code = {"X-Access-Code": "owl-7-river"}
    body = {"bank": "transformer-triad", "question": "text-to-text", "answer": "T5"}
    statuses = [guarded.check(body, **code)[0] for _ in range(6)]
    first = statuses.index(429)  # the earlier tests spent some of the client's 5 checks
    assert statuses == [200] * first + [429] * (6 - first)
    status, headers, text = guarded.request("/api/check", body, headers=code)
    assert status == 429 and int(headers["retry-after"]) >= 1
    assert json.loads(text)["error"].startswith("too many checks: at most 5 a minute; try again in")


def test_other_hosts_need_an_access_code(tmp_path) -> None:
    result = CliRunner().invoke(
        cli, ["serve", str(SEED_BANK), "--host", "0.0.0.0", "--data", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert result.output == (
        "Error: refusing to serve on 0.0.0.0 without --access-code: anyone on the network could "
        "use it (give --access-code CODE, or keep the default --host 127.0.0.1)\n"
    )
    assert not list(tmp_path.iterdir())  # nothing written


def test_help_and_validate_do_not_import_the_web_framework() -> None:
    code = (
        "import sys\nfrom grader.cli import main\nsys.argv = ['grader', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'pydantic') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert "serve" in result.stdout and "attempts" in result.stdout


def test_a_learner_names_themselves_and_stays_on_the_page(browser, server) -> None:
    learner = Learner(browser, server)
    page = learner.open("/b/transformer-triad/cls-nsp")
    page.fill("#learner-name", "Mina <b>K</b>")
    page.click("form.name-form button[type=submit]")
    assert page.url == server.url + "/b/transformer-triad/cls-nsp"
    assert page.input_value("#learner-name") == "Mina <b>K</b>"
    token = page.get_attribute("form.name-form input[name=csrf]", "value")
    outside = page.request.post(
        server.url + "/name",
        form={"csrf": token, "name": "x", "back": "//evil.example/"},
        max_redirects=0,
    )
    assert outside.status == 303 and outside.headers["location"] == "/"
    assert learner.close() == []
