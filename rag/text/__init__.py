"""Pure string work on markdown and answers: words and terms, sentences, citation markers.

No I/O, and no imports of the project."""
