"""`python -m rag.users`: the users of a deployment with password login (USERS_FILE).

add NAME [--role instructor]   add a user or change their password (asked twice, or read from stdin)
token NAME                     issue an API token for REST calls (shown once; only its hash is kept)
remove NAME                    remove a user
list                           names and roles
instructor-link [--url URL]    with no login configured: a one-time link to the instructor view (15 minutes)
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from pathlib import Path

from rag.identity import ROLES, UsersFile, auth_secret, hash_password, hash_token, instructor_link

MIN_PASSWORD = 8


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rag.users", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--file", type=Path, help="the users file (default: USERS_FILE, else users.json)")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="add a user, or set their password and role")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="student")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    for command in ("token", "remove"):
        sub.add_parser(command).add_argument("name")
    sub.add_parser("list")
    link = sub.add_parser("instructor-link", help="a one-time link to the instructor view (no login configured)")
    link.add_argument("--url", default="http://localhost:8000", help="where the app is (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.command == "instructor-link":
        return _print_link(args.url)
    users_file = UsersFile(args.file or _default_file())
    users = users_file.load()
    if args.command == "list":
        for name, user in sorted(users.items()):
            print(f"{name}\t{user.get('role', 'student')}\t{len(user.get('tokens', []))} API token(s)")
        return 0
    if args.command != "add" and args.name not in users:
        print(f"error: no user {args.name!r} in {users_file.path}", file=sys.stderr)
        return 2
    if args.command == "add":
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else _ask_password()
        if len(password) < MIN_PASSWORD:
            print(f"error: the password needs at least {MIN_PASSWORD} characters", file=sys.stderr)
            return 2
        users[args.name] = {**users.get(args.name, {}), "password": hash_password(password), "role": args.role}
        print(f"{args.name} ({args.role}) saved in {users_file.path}")
    elif args.command == "token":
        token = secrets.token_urlsafe(32)
        users[args.name].setdefault("tokens", []).append(hash_token(token))
        print(f"API token for {args.name} (shown once): {token}")
    else:
        del users[args.name]
        print(f"{args.name} removed")
    users_file.save(users)
    return 0


def _default_file() -> Path:
    from rag.config import load_settings

    return load_settings().users_file or Path("users.json")


def _print_link(url: str) -> int:
    from rag.config import load_settings

    settings = load_settings()
    if settings.login_required:
        print("error: login is configured: instructors log in (their role is `instructor`)", file=sys.stderr)
        return 2
    print(f"Instructor view (works once, for 15 minutes): {instructor_link(auth_secret(settings), url)}")
    return 0


def _ask_password() -> str:
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        print("error: the passwords differ", file=sys.stderr)
        sys.exit(2)
    return first


if __name__ == "__main__":
    sys.exit(main())
