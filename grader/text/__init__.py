"""Reading an answer's text: normalisation, language, words, sentences, negation."""
