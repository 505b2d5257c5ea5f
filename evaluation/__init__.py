"""`python -m evaluation`: quality through the project's own ingest, embeddings, store, search and tutor.

  beir       BEIR retrieval benchmark (e.g. SciFact): nDCG@10, recall@100, MRR@10 per mode (pytrec_eval).
  questions  Student-style questions over Docusaurus corpora: quote@k, file@k, MRR and "not covered" decisions.
  grounding  The grounding checker on labelled answers: flagged, fixed and falsely flagged sentences.
  reading    The search with the page being read (the book widget): the page leads when it answers, and only then.
  quiz       Study mode's quizzes over a corpus: answers in their passages, choices, grading, build time.
  hints      Hints mode on student questions: the first reply cites the answering section, never its sentence.
  answers    The whole tutor per question (retrieval, coverage, the default provider, the checker).

Each corpus goes into a temporary embedded collection; nothing touches the app's store.
"""
