"""The database: its tables (`schema`) and its engine, shared by every part that keeps records."""
