"""Element files (Chainlit's message attachments: the citation panels of chats answered before the chat page had
its own panel, `public/citations.js`), read through signed URLs.

Chainlit persists an element's content through a storage client and drops the element without one, so after a
resume or a restart such a citation would open nothing. Two backends behind one base (`SignedStorage`): a folder in
DATA_DIR (zero config, one host), or the PostgreSQL database when DATABASE_URL is set, so any app process of a
deployment serves any chat's panels.
"""

from __future__ import annotations

from rag.config import Settings
from rag.db.database import Database
from web.storage.database import DatabaseStorage
from web.storage.folder import FolderStorage
from web.storage.signed import FILES_ROUTE, SignedStorage

__all__ = ["FILES_ROUTE", "DatabaseStorage", "FolderStorage", "SignedStorage", "storage_for"]


def storage_for(settings: Settings, database: Database, secret: str) -> SignedStorage:
    """The database when the deployment has a shared one, else the local folder."""
    if settings.database_url is not None:
        return DatabaseStorage(database, secret)
    return FolderStorage(settings.data_dir / "files", secret)
