"""search index and outbox

Revision ID: b1269143ad0f
Revises: 03cc573774ce
Create Date: 2026-11-29 06:12:58.861070

The search index lives in the database (see ``search/sql.py``): ``search_documents`` on
every engine, plus FTS5 and R*Tree virtual tables on SQLite, or a tsvector column with a
GIN index (with the grid cells of the point) and an earthdistance GiST index on PostgreSQL. These are not models (the
engines own them), so they are written here by hand, per dialect.

The words are segmented by jieba in Python, so this migration cannot fill the index:
after upgrading a database that already holds public needs, run
``flask --app wsgi search reindex``.
"""
import logging

from alembic import op
import sqlalchemy as sa


revision = 'b1269143ad0f'
down_revision = '03cc573774ce'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    op.create_table('search_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('need_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('search_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_outbox_need_id'), ['need_id'], unique=False)

    # One row per public need: the filters and sort keys (no text, no household).
    op.create_table('search_documents',
    sa.Column('need_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('is_open', sa.SmallInteger(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('category', sa.String(length=24), nullable=False),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.Column('city_code', sa.String(length=6), nullable=False),
    sa.Column('urgency', sa.SmallInteger(), nullable=False),
    sa.Column('published_ts', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lng', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('need_id')
    )
    # Browsing (open first, newest first) reads this index in order; facets group on the other.
    op.create_index('ix_search_documents_order', 'search_documents',
                    ['is_open', 'published_ts', 'need_id'])
    op.create_index('ix_search_documents_facets', 'search_documents',
                    ['state', 'kind', 'district_code'])
    op.create_index('ix_search_documents_city', 'search_documents', ['city_code'])
    op.create_index('ix_search_documents_district', 'search_documents', ['district_code'])

    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        # rowid = need id. Words are cut by jieba and joined by spaces before they get here.
        op.execute("CREATE VIRTUAL TABLE search_fts USING fts5(title, body, tokenize = 'unicode61')")
        # A point per need (min = max): the bounding box of a "within R km" search.
        op.execute('CREATE VIRTUAL TABLE search_rtree USING rtree(id, min_lat, max_lat, min_lng, max_lng)')
    elif dialect == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS cube')
        op.execute('CREATE EXTENSION IF NOT EXISTS earthdistance')
        op.execute("ALTER TABLE search_documents ADD COLUMN tokens tsvector NOT NULL DEFAULT ''::tsvector")
        # The grid cells of the need's point (search/geo.py): in the same GIN index as the
        # words, so "these words near there" is one index lookup.
        op.execute("ALTER TABLE search_documents ADD COLUMN cells integer[] NOT NULL DEFAULT '{}'")
        op.execute('CREATE INDEX ix_search_documents_words ON search_documents USING gin (tokens, cells)')
        op.execute('CREATE INDEX ix_search_documents_earth ON search_documents '
                   'USING gist (ll_to_earth(lat, lng))')

    public = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM needs "
        "WHERE state IN ('published', 'claimed', 'delivered', 'confirmed', 'closed')"
    )).scalar()
    if public:
        log.warning("search index created empty: run `flask --app wsgi search reindex` "
                    "to index the %s public needs", public)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        op.execute('DROP TABLE search_rtree')
        op.execute('DROP TABLE search_fts')
    # The cube and earthdistance extensions stay: other tables may use them, and the
    # upgrade finds them again (IF NOT EXISTS).
    op.drop_table('search_documents')  # its indexes (GIN, GiST included) go with it

    with op.batch_alter_table('search_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_outbox_need_id'))

    op.drop_table('search_outbox')
