"""`python -m agent_server.store revision "what changes"`: a new, empty schema revision to fill in."""

from __future__ import annotations

import sys

from agent_server.store.migrate import alembic_config, revisions


def main(argv: list[str]) -> None:
    from alembic import command

    if len(argv) != 2 or argv[0] != "revision":
        raise SystemExit('usage: python -m agent_server.store revision "what changes"')
    number = f"{int(revisions()[-1]) + 1:04d}"
    command.revision(alembic_config(), message=argv[1], rev_id=number)


if __name__ == "__main__":
    main(sys.argv[1:])
