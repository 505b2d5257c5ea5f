#!/usr/bin/env bash
# Builds the sample textbook (samples/textbook, a Docusaurus site with the tutor's plugin from book/plugin)
# into samples/textbook/build, which the app serves at /book/.
#
#   scripts/book.sh               build now (`make book`, `make test`)
#   scripts/book.sh --background  start the build and return at once (`make run`: the chat is served meanwhile,
#                                 and /book/ says the book is building until it is done)
#
# Node dependencies come from the lockfile (`npm ci`), again only when it changed. The build is skipped when
# nothing it reads changed since the last one. While it runs, build.pid holds its process id and build.log its
# output; the app reads both to say how the build is going. A new build replaces the old one only when it
# succeeded.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
site="$repo/samples/textbook"
out="$site/build"
log="$out.log"
pid="$out.pid"

if ! command -v npm >/dev/null 2>&1; then
  echo "The book needs Node.js 18+ and npm to build (https://nodejs.org, or your package manager's nodejs and npm)." >&2
  echo "The tutor's chat works without it; /book/ says the book is not built." >&2
  [ "${1:-}" = "--background" ] && exit 0
  exit 1
fi

if [ "${1:-}" = "--background" ]; then
  if [ -f "$pid" ] && kill -0 "$(cat "$pid")" 2>/dev/null; then
    exit 0  # a build is already running
  fi
  nohup nice -n 10 "$0" >"$log" 2>&1 &  # the app's own start comes first on a small machine
  echo $! >"$pid"  # before the app can look: a log without a live pid reads as a failed build
  echo "Building the book in the background (log: ${log#"$repo"/}); http://localhost:8000/book/ shows it when done."
  exit 0
fi

cd "$site"
echo $$ >"$pid"
trap 'rm -f "$pid"' EXIT

# What the build reads: when none of it changed, the last build stands.
stamp="$(cd "$repo" && find samples/textbook/docs samples/textbook/src book/plugin -type f -print0 | sort -z \
  | xargs -0 sha256sum | cat - samples/textbook/docusaurus.config.js samples/textbook/package-lock.json \
  | sha256sum | cut -c1-16)"
if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ]; then
  echo "The book is up to date ($out)."
  exit 0
fi

if ! cmp -s package-lock.json node_modules/.package-lock.json 2>/dev/null; then
  echo "Installing the book's Node dependencies from package-lock.json (npm ci)..."
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "Building the book..."
rm -rf "$out.new"
npx --no-install docusaurus build --out-dir "$out.new"
echo "$stamp" >"$out.new/.stamp"
rm -rf "$out.old"
[ -d "$out" ] && mv "$out" "$out.old"
mv "$out.new" "$out"
rm -rf "$out.old"
echo "The book is built: $out"
