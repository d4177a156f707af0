#!/usr/bin/env bash
# Interface translations (Babel).
#
#   scripts/translations.sh extract   # scan the code into translations/messages.pot
#   scripts/translations.sh update    # extract, then merge the .pot into every locale's .po
#   scripts/translations.sh compile   # build the .mo files the app loads (gitignored)
#   scripts/translations.sh check     # CI: fail if any zh string is missing, empty or fuzzy
#
# Source strings are English. Chinese (zh) is the default locale and must be
# complete; en keeps empty msgstrs on purpose (gettext falls back to the msgid).
# Set PYBABEL to use a pybabel other than the repo's .venv one.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [[ -x .venv/bin/pybabel && -z "${PYBABEL:-}" ]]; then
    PYBABEL=.venv/bin/pybabel
else
    PYBABEL="${PYBABEL:-pybabel}"
fi
PYBABEL_PATH="$(command -v "$PYBABEL")" || { echo "pybabel not found (set PYBABEL)" >&2; exit 2; }
# `check` needs a Python with babel: the one next to pybabel if there is one.
if [[ -z "${PYTHON:-}" ]]; then
    PYTHON="$(dirname "$PYBABEL_PATH")/python"
    [[ -x "$PYTHON" ]] || PYTHON=python3
fi

DIR=translations
POT="$DIR/messages.pot"
LOCALES=(zh en)
REQUIRED_LOCALE=zh   # the catalog that must be fully translated
# babel.cfg's patterns (app/**.py, templates/**.html, ...) are relative to the
# input path, so the scan starts at the repo root; these directory names are
# never descended into (basename globs; ".*" already covers .venv, .git).
IGNORE_DIRS='.* ._ __pycache__ node_modules venv static instance'

extract_to() {
    local output="$1"
    mkdir -p "$(dirname "$output")"
    "$PYBABEL" extract -F babel.cfg \
        -k _l -k lazy_gettext -k lazy_ngettext:1,2 -k lazy_pgettext:1c,2 \
        --add-comments=TRANSLATORS: \
        --no-location --sort-output \
        --project=Shanlian \
        --ignore-dirs="$IGNORE_DIRS" \
        -o "$output" .
}

# Catalogs carry no source locations and a fixed creation date, sorted by message: line
# numbers and timestamps would make every branch's catalog conflict with every other's.
pin_headers() {
    sed -i -E 's/^"(POT-Creation-Date|PO-Revision-Date): .*\\n"$/"\1: 2026-01-01 00:00+0000\\n"/' "$@"
}

cmd_extract() {
    extract_to "$POT"
    pin_headers "$POT"
}

cmd_update() {
    cmd_extract
    local locale
    for locale in "${LOCALES[@]}"; do
        if [[ -f "$DIR/$locale/LC_MESSAGES/messages.po" ]]; then
            "$PYBABEL" update -i "$POT" -d "$DIR" -l "$locale" --no-fuzzy-matching
        else
            "$PYBABEL" init -i "$POT" -d "$DIR" -l "$locale"
        fi
        pin_headers "$DIR/$locale/LC_MESSAGES/messages.po"
    done
}

cmd_compile() {
    # Untranslated entries are fine here (they fall back to English); `check` guards zh.
    "$PYBABEL" compile -d "$DIR" --statistics
}

cmd_check() {
    TMP_DIR="$(mktemp -d)"
    trap 'rm -rf "$TMP_DIR"' EXIT
    local tmp="$TMP_DIR"
    # Compare against a fresh extraction, so a string added to the code
    # without running `update` fails too.
    extract_to "$tmp/current.pot" 2>"$tmp/extract.log" || { cat "$tmp/extract.log" >&2; return 1; }
    "$PYTHON" - "$tmp/current.pot" "$DIR/$REQUIRED_LOCALE/LC_MESSAGES/messages.po" <<'PY'
import re
import sys
from babel.messages.pofile import read_po

PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|\{\w*\}")

pot_path, po_path = sys.argv[1], sys.argv[2]
try:
    with open(po_path, "rb") as f:
        catalog = read_po(f)
except FileNotFoundError:
    sys.exit(f"{po_path} is missing: run scripts/translations.sh update")
with open(pot_path, "rb") as f:
    template = read_po(f)


def where(message):
    return ", ".join(f"{path}:{line}" for path, line in message.locations) or "?"


problems = []
for message in template:
    if not message.id:
        continue
    if catalog.get(message.id, message.context) is None:
        problems.append(f"not in catalog (run `update`): {message.id!r}  [{where(message)}]")
for message in catalog:
    if not message.id:
        continue
    strings = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
    if message.fuzzy:
        problems.append(f"fuzzy: {message.id!r}  [{where(message)}]")
    elif not all(strings):
        problems.append(f"untranslated: {message.id!r}  [{where(message)}]")
    else:
        for error in message.check(catalog):
            problems.append(f"bad translation: {message.id!r}: {error}  [{where(message)}]")
        ids = message.id if isinstance(message.id, (list, tuple)) else (message.id,)
        wanted = sorted(set(PLACEHOLDER.findall(" ".join(ids))))
        for string in strings:
            if sorted(set(PLACEHOLDER.findall(string))) != wanted:
                problems.append(
                    f"placeholders differ: {message.id!r} -> {string!r}  [{where(message)}]"
                )

if problems:
    print(f"{po_path}: {len(problems)} problem(s)", file=sys.stderr)
    for problem in problems:
        print("  " + problem, file=sys.stderr)
    sys.exit(1)
total = sum(1 for m in catalog if m.id)
print(f"{po_path}: all {total} messages translated")
PY
}

case "${1:-}" in
    extract) cmd_extract ;;
    update) cmd_update ;;
    compile) cmd_compile ;;
    check) cmd_check ;;
    *)
        echo "usage: $0 {extract|update|compile|check}" >&2
        exit 2
        ;;
esac
