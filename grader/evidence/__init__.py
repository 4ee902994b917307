"""Evidence about an answer: rubric keywords, closed questions, sentence embeddings."""
