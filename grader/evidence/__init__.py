"""Evidence about an answer: rubric keywords, closed questions, sentence embeddings.

The defaults the CLI shows live here, so that `grader --help` does not import the modules.
"""

DEFAULT_DEVICE = "auto"  # a GPU when torch sees one, else the CPU
