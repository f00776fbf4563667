"""The tools of the app that tests/test_approvals.py starts (this folder comes first on its PYTHONPATH).

`save_note` changes something, so it asks the user first; `count_notes` only reads. Notes go to
the file named by $APPROVAL_NOTES_FILE, so a test can see whether a call really ran.
"""

from __future__ import annotations

import os
from pathlib import Path

from agent_server.approvals import needs_approval


def _notes() -> Path:
    return Path(os.environ["APPROVAL_NOTES_FILE"])


@needs_approval
def save_note(text: str) -> str:
    """Save a note for later."""
    with _notes().open("a", encoding="utf-8") as notes:
        notes.write(text + "\n")
    return f"Saved note {text!r}."


def count_notes() -> str:
    """How many notes are saved."""
    lines = _notes().read_text(encoding="utf-8").splitlines() if _notes().exists() else []
    return f"{len(lines)} notes"


TOOLS = [save_note, count_notes]
