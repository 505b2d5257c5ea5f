"""A clock a test controls for a whole process, such as the app: libfaketime (Debian's `faketime`) preloaded,
reading the offset from a file the test rewrites. The app has no test hook: its own `datetime.now()` moves.
The monotonic clock moves with it (left alone, libfaketime makes Python's `time.sleep` fail with EINVAL), so a
page's chat socket may need a reload after a jump."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from harness import Missing

LIBRARY = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")


class FakeClock:
    def __init__(self, folder: Path):
        if not LIBRARY.exists():
            raise Missing("libfaketime is not installed (`apt-get install faketime`; .ci/run does it)")
        self.file = folder / "faketime.rc"
        self.offset = timedelta()
        self.file.write_text("+0\n")

    @property
    def env(self) -> dict[str, str]:
        """What a process started with it reads its time by."""
        return {
            "LD_PRELOAD": str(LIBRARY),
            "FAKETIME_TIMESTAMP_FILE": str(self.file),
            "FAKETIME_NO_CACHE": "1",
        }

    def advance(self, by: timedelta) -> None:
        self.offset += by
        self.file.write_text(f"+{int(self.offset.total_seconds())}s\n")
