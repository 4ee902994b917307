"""Learners' self-check in the browser: the server, its pages and the attempts it keeps."""
