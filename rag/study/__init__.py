"""Study mode: quizzes from the book, hints before answers, and spaced review (README "Study mode")."""
