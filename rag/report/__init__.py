"""The instructor's report: what students asked, where the book fell short, and how each model did."""
