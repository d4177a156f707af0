#!/usr/bin/env bash
# Restore a backup made with
#     pg_dump --format=custom --no-owner --file shanlian.dump "$DATABASE_URL"
# into an EMPTY database (createdb it first):
#     scripts/restore-db.sh shanlian.dump postgresql://user@host:5432/shanlian_restored
# then `flask --app wsgi db upgrade` (a no-op when the dump is current) and start the app.
#
# Why not plain pg_restore: it runs with an empty search_path, and earthdistance's
# ll_to_earth() calls earth() without naming its schema, so the GiST index over it cannot
# be rebuilt that way. Everything else is restored by pg_restore; that index afterwards,
# with the schema on the path.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 DUMP_FILE DATABASE_URL" >&2
    exit 2
fi
dump=$1
target=${2/postgresql+psycopg:/postgresql:}  # the app's spelling, in libpq's

list=$(mktemp)
trap 'rm -f "$list"' EXIT
pg_restore --list "$dump" | grep -v ' INDEX public ix_search_documents_earth ' > "$list"
pg_restore --no-owner --exit-on-error --use-list "$list" --dbname "$target" "$dump"
if pg_restore --list "$dump" | grep -q ' INDEX public ix_search_documents_earth '; then
    psql "$target" --quiet -v ON_ERROR_STOP=1 -c \
        'SET search_path = public; CREATE INDEX ix_search_documents_earth ON search_documents USING gist (ll_to_earth(lat, lng))'
fi
echo "restored $dump into ${target##*/}"
