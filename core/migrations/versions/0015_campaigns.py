"""campaigns: the indexes a campaign's run reads contacts by

A run walks a profile's contacts in id order a batch at a time (ix_contact_walk) and reads the other contacts of
the people in each batch by their external id (ix_contact_person). A survey's case per campaign, period and person
is held unique by the existing unique case_key.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_contact_walk", "contacts", ["profile", "id"])
    op.create_index("ix_contact_person", "contacts", ["profile", "external_id"])


def downgrade() -> None:
    op.drop_index("ix_contact_person", table_name="contacts")
    op.drop_index("ix_contact_walk", table_name="contacts")
