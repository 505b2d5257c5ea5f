"""Study mode: quizzes from the book, hints before answers, and spaced review (docs/study.md)."""
