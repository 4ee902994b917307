"""``grader serve``: learners check their answers in a browser, on FastAPI over uvicorn.

The banks, rubrics, language analysers and embedding models are loaded once, at start (every
reference text is embedded then too), so a check only analyses and embeds the learner's answer.
Learners see what ``grader.output.student_view`` lets a student see, with labels from the message
catalogue in their language. Every check is stored in SQLite under ``--data``
(``grader.serve.attempts``); nothing is written anywhere else (the embedding and analysis caches
live in ``--data/cache``).

Security: 127.0.0.1 by default, and any other host only with an access code (typed once, kept
as an HMAC in a cookie, checked on every request, never in a URL or a log). Forms carry a CSRF
token bound to the learner's signed id; the JSON API accepts only ``application/json`` (which a
cross-site form cannot send). Checks are rate-limited per client; answers and request bodies are
length-limited; pages have a strict Content-Security-Policy (no script at all) and every text is
escaped; errors never show a stack trace.

The web framework is imported only when the server starts (``grader --help`` stays fast).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.errors import GraderError
from grader.evidence import DEFAULT_DEVICE

if TYPE_CHECKING:
    from grader.bank import Bank, Gradable, Question
    from grader.grading import GradeOptions
    from grader.output.student_view import Policy, StudentAnswer
    from grader.serve.attempts import Attempt, AttemptStore

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
MIN_ACCESS_CODE = 4
ENVIRONMENT_KEY = "GRADER_SERVE_CONFIG"  # the configuration handed to worker processes
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
SECRET_FILE = "secret.key"
CACHE_FOLDER = "cache"
RATE_WINDOW_S = 60.0
MAX_BODY_BYTES = 256 * 1024
MAX_NAME_CHARS = 60
COOKIE_LEARNER = "grader_learner"
COOKIE_NAME = "grader_name"
COOKIE_LANGUAGE = "grader_lang"
COOKIE_ACCESS = "grader_access"
COOKIE_AGE_S = 365 * 24 * 3600
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class ServeConfig:
    banks: tuple[Path, ...]
    host: str = "127.0.0.1"
    port: int = 8000
    data: Path | None = None  # None: default_data_folder()
    access_code: str | None = None
    workers: int = 1
    rate_limit: int = 30  # checks a minute per client
    max_answer: int = 5000  # characters
    model: str | None = None  # None: each bank's setting
    device: str = DEFAULT_DEVICE
    rubric_dirs: tuple[Path, ...] = ()
    reveal: str | None = None  # None: each bank's setting

    @property
    def data_folder(self) -> Path:
        return self.data if self.data is not None else default_data_folder()

    def to_json(self) -> str:
        document = asdict(self)
        document["banks"] = [str(path) for path in self.banks]
        document["rubric_dirs"] = [str(path) for path in self.rubric_dirs]
        document["data"] = str(self.data_folder)
        return json.dumps(document)

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        document = json.loads(text)
        document["banks"] = tuple(Path(path) for path in document["banks"])
        document["rubric_dirs"] = tuple(Path(path) for path in document["rubric_dirs"])
        document["data"] = Path(document["data"])
        return cls(**document)


def default_data_folder() -> Path:
    """Beside the embedding cache: ``~/.cache/grader/serve`` on Linux."""
    from grader.cache_file import default_cache_dir

    return default_cache_dir().parent / "serve"


def check_config(config: ServeConfig) -> ServeConfig:
    """Refuse what would be unsafe or cannot work, with the fix."""
    if not config.banks:
        raise GraderError("give at least one bank")
    if config.host not in LOOPBACK_HOSTS and not config.access_code:
        raise GraderError(
            f"refusing to serve on {config.host} without --access-code: anyone on the network "
            "could use it (give --access-code CODE, or keep the default --host 127.0.0.1)"
        )
    if config.access_code is not None and len(config.access_code.strip()) < MIN_ACCESS_CODE:
        raise GraderError(f"--access-code must have at least {MIN_ACCESS_CODE} characters")
    if not 0 < config.port < 65536:
        raise GraderError(f"--port must be from 1 to 65535, not {config.port}")
    for name, value in (
        ("--workers", config.workers),
        ("--rate-limit", config.rate_limit),
        ("--max-answer", config.max_answer),
    ):
        if value < 1:
            raise GraderError(f"{name} must be at least 1, not {value}")
    return config


# ---------------------------------------------------------------- the service (no web framework)


class NotFound(GraderError):
    """An unknown bank or question; ``known`` lists the ids that exist."""

    def __init__(self, message: str, key: str, known: Sequence[str]) -> None:
        super().__init__(message)
        self.key = key
        self.known = list(known)


@dataclass
class Service:
    """The loaded banks, the attempts store and the secret of one server process."""

    config: ServeConfig
    banks: dict[str, Bank]
    store: AttemptStore
    secret: bytes
    options: GradeOptions
    lock: threading.Lock = field(default_factory=threading.Lock)
    started: float = field(default_factory=time.time)
    references_embedded: threading.Event = field(default_factory=threading.Event)

    # ---- banks and questions

    def bank(self, bank_id: str) -> Bank:
        bank = self.banks.get(bank_id)
        if bank is None:
            raise NotFound(f"unknown bank '{bank_id}'", "banks", list(self.banks))
        return bank

    def question(self, bank: Bank, question_id: str) -> Question:
        question = bank.question(question_id)
        if question is None:
            raise NotFound(
                f"unknown question '{question_id}' in bank '{bank.id}'",
                "questions",
                [q.id for q in bank.questions],
            )
        return question

    def gradable(self, bank: Bank, answer_id: str) -> Gradable:
        gradables = bank.gradables()
        gradable = gradables.get(answer_id)
        if gradable is not None:
            return gradable
        question = bank.question(answer_id)
        if question is not None:  # a challenge: its steps are addressed as question/step
            message = f"'{answer_id}' is a challenge: check one of its steps"
        else:
            message = f"unknown question '{answer_id}' in bank '{bank.id}'"
        raise NotFound(message, "questions", list(gradables))

    def policy(self, bank: Bank) -> Policy:
        from grader.output.student_view import bank_policy

        return bank_policy(bank, self.config.reveal)

    # ---- checking

    def check(
        self,
        bank: Bank,
        gradable: Gradable,
        answer: str,
        language: str | None,
        learner: str,
        name: str,
        timings: dict[str, float] | None = None,
    ) -> tuple[StudentAnswer, int]:
        """Grade one answer, store the attempt, and return what the learner may see (and the
        seconds spent waiting, grading and storing, in ``timings`` when given)."""
        from grader.grading import check_answer
        from grader.output.student_view import answer_document, student_answer

        if len(answer) > self.config.max_answer:
            raise AnswerTooLong(len(answer), self.config.max_answer)
        started = time.perf_counter()
        with self.lock:  # one check at a time per process: the analysers are not thread-safe
            locked, cpu = time.perf_counter(), time.process_time()
            result = check_answer(bank, gradable.id, answer, language, self.options)
            cpu = time.process_time() - cpu
        graded = time.perf_counter()
        view = student_answer(result, gradable, self.policy(bank), bank.languages)
        attempt = self.store.record(
            learner=learner,
            name=name,
            bank=bank.id,
            question=gradable.id,
            answer=answer,
            language=result.language,
            language_given=bool(language),
            score=view.score,
            points=view.points,
            view=answer_document(view),
        )
        if timings is not None:
            timings.update(
                wait=locked - started,
                grade=graded - locked,
                cpu=cpu,  # the process's CPU time while grading (what other work changes least)
                store=time.perf_counter() - graded,
            )
        return view, attempt

    def attempts(self, learner: str, bank: Bank, answer_ids: Sequence[str]) -> list[Attempt]:
        return self.store.of_learner(learner, bank.id, answer_ids)

    # ---- tokens

    def sign(self, purpose: str, value: str) -> str:
        message = f"{purpose}:{value}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()[:32]

    def verify(self, purpose: str, value: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(purpose, value), signature)

    def access_token(self) -> str:
        return self.sign("access", self.config.access_code or "")

    def access_ok(self, token: str | None, code: str | None) -> bool:
        if not self.config.access_code:
            return True
        if code is not None and hmac.compare_digest(
            code.strip().encode(), self.config.access_code.strip().encode()
        ):
            return True
        return token is not None and hmac.compare_digest(token, self.access_token())

    def new_learner(self) -> str:
        learner = "anon-" + secrets.token_hex(5)
        return f"{learner}.{self.sign('learner', learner)}"

    def learner_of(self, cookie: str | None) -> str | None:
        """The learner id of a signed cookie, or None when it is missing or forged."""
        if not cookie or "." not in cookie:
            return None
        learner, _, signature = cookie.rpartition(".")
        return learner if self.verify("learner", learner, signature) else None


class AnswerTooLong(GraderError):
    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"the answer has {length} characters; at most {limit} are checked")
        self.length = length
        self.limit = limit


class RateLimited(GraderError):
    def __init__(self, limit: int, wait: int) -> None:
        super().__init__(f"too many checks: at most {limit} a minute; try again in {wait} s")
        self.limit = limit
        self.wait = wait


def _secret(folder: Path) -> bytes:
    """The server's signing key: made once (readable by its owner only), shared by the workers."""
    path = folder / SECRET_FILE
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    key = secrets.token_bytes(32)
    with os.fdopen(handle, "w", encoding="ascii") as file:
        file.write(key.hex())
    return key


def load_service(config: ServeConfig, warm: bool = True) -> Service:
    """Load the banks, open the attempts store; with ``warm``, load the analysers and models
    every bank language needs (one check per language), so the first learner does not wait for
    them. The other references are embedded by :func:`embed_references` while serving."""
    from grader.fsutil import ensure_folder
    from grader.grading import GradeOptions
    from grader.load.loader import load_bank
    from grader.serve.attempts import AttemptStore

    check_config(config)
    folder = config.data_folder
    ensure_folder(folder)
    banks: dict[str, Bank] = {}
    for path in config.banks:
        bank = load_bank(path, config.rubric_dirs)
        if bank.id in banks:
            raise GraderError.at(path, None, f"a second bank with the id '{bank.id}'")
        banks[bank.id] = bank
    options = GradeOptions(
        model=config.model,
        device=config.device,
        cache_dir=folder / CACHE_FOLDER,
        models={},
    )
    service = Service(config, banks, AttemptStore(folder), _secret(folder), options)
    if warm:
        warm_up(service)
    return service


def _model_answer_rows(bank: Bank, gradables: Sequence[Gradable]) -> list[Any]:
    """One submission per gradable and language: its first model answer in that language."""
    from grader.load.submissions import Submission

    return [
        Submission(f"warm-up-{language}", gradable.id, texts[0], language, None, 0)
        for gradable in gradables
        if gradable.closed is None
        for language, texts in gradable.answers.items()
        if texts
    ]


def warm_up(service: Service) -> None:
    """Load what checks need: each bank language's analyser (run on one of its model answers)
    and each embedding model the banks use (run on one short text). Nothing is graded: the
    references are embedded later, by :func:`embed_references`."""
    from grader.evidence.embedding import load_embedder
    from grader.evidence.models import auto_model_for
    from grader.text.analysis import analyze

    models = service.options.models if service.options.models is not None else {}
    with service.lock:
        for bank in service.banks.values():
            samples: dict[str, str] = {}
            for row in _model_answer_rows(bank, list(bank.gradables().values())):
                samples.setdefault(row.language or "", row.answer)
            for language, text in samples.items():
                analyze(f"{text} ({secrets.token_hex(4)})", language)  # a text no cache holds
            requested = service.options.model or bank.settings.model
            if requested == "none":
                continue
            names = {auto_model_for(code) for code in bank.languages}
            for name in sorted(names if requested == "auto" else {requested}):
                embedder = load_embedder(name, service.options.device, lazy=True, shared=models)
                embedder.encode([f"warm-up {secrets.token_hex(4)}"])


def embed_references(service: Service) -> None:
    """Embed (and cache) the references of every question, one question at a time between the
    learners' checks, so that a question's first check does not wait for them."""
    from grader.grading import grade

    try:
        for bank in service.banks.values():
            for gradable in bank.gradables().values():
                rows = _model_answer_rows(bank, [gradable])
                if rows:
                    with service.lock:
                        grade(bank, rows, service.options)
    finally:
        service.references_embedded.set()


def start_embedding_references(service: Service) -> threading.Thread:
    thread = threading.Thread(
        target=embed_references, args=(service,), name="embed-references", daemon=True
    )
    thread.start()
    return thread


def create_app(service: Service) -> Any:
    """The web application over ``service`` (FastAPI is imported here, not when grader starts)."""
    from grader.serve.app import build_app

    return build_app(service)


# ---------------------------------------------------------------- running


def app_from_environment() -> Any:
    """The app of a worker process (``--workers N``): its configuration comes from the parent."""
    config = ServeConfig.from_json(os.environ[ENVIRONMENT_KEY])
    service = load_service(config)
    start_embedding_references(service)
    return create_app(service)


def one_blas_thread() -> None:
    """Let numpy's BLAS use one thread, unless the environment says otherwise.

    A check encodes one small batch. On the 2-core machine the benchmarks run on, OpenBLAS with
    its default threads took 720 ms to encode two 40-word texts with MiniLM, and 23 ms with one
    thread; one thread per process also keeps ``--workers`` processes from competing. It must
    be set before numpy is first imported (``grader serve`` does so before loading anything)."""
    for variable in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")


def serve(config: ServeConfig, say: Callable[[str], None] = print) -> None:
    """Load everything, then serve until interrupted."""
    check_config(config)
    one_blas_thread()
    import uvicorn

    scheme_host = f"[{config.host}]" if ":" in config.host else config.host
    say(f"Data folder (attempts, cache): {config.data_folder}")
    started = time.perf_counter()
    if config.workers > 1:
        os.environ[ENVIRONMENT_KEY] = config.to_json()
        say(f"Starting {config.workers} workers (each loads the banks and models)...")
        uvicorn.run(
            "grader.serve.server:app_from_environment",
            factory=True,
            host=config.host,
            port=config.port,
            workers=config.workers,
            log_level="warning",
            access_log=False,
            server_header=False,
        )
        return
    service = load_service(config)
    start_embedding_references(service)
    app = create_app(service)
    banks = ", ".join(service.banks)
    say(
        f"Loaded {banks} in {time.perf_counter() - started:.1f} s. "
        f"Serving on http://{scheme_host}:{config.port}/"
        + (" (learners need the access code)" if config.access_code else "")
    )
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_level="warning",
        access_log=False,
        server_header=False,
    )
