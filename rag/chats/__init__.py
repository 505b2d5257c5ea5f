"""Persistence of chats: the database, each chat's history and memory, and the instructor report built from them."""
