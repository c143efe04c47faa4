"""Datasets and eval runs: immutable content-hashed dataset versions, eval runs and their cases.

Revision ID: 0006_evals
Revises: 0004_fewer_sample_indexes
Create Date: 2026-12-02

* ``dataset`` (a name and its latest version), ``dataset_version`` (unique on name and
  content-hash version) and ``dataset_case`` (unique per version on case id and position).
* ``eval_run`` (status, candidate, totals, metrics) and ``eval_case`` (one per run and
  dataset case: claim state, output, verdict, per-criterion results).

New tables only: nothing existing is copied or changed.
"""


from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_evals"
down_revision: str | None = "0005_review_unique"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
NULLABLE_JSON = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
)
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('dataset',
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('latest_version', sa.String(), nullable=False),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.Column('updated_at', TIMESTAMP, nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_dataset'))
    )
    op.create_table('dataset_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('version', sa.String(length=16), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('case_count', sa.Integer(), nullable=False),
    sa.Column('categories', JSON, nullable=False),
    sa.Column('source', JSON, nullable=False),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dataset_version')),
    sa.UniqueConstraint('name', 'version', name=op.f('uq_dataset_version_name_version'))
    )
    op.create_index(op.f('ix_dataset_version_name'), 'dataset_version', ['name'], unique=False)

    op.create_table('eval_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('group_id', sa.String(), nullable=True),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('stop_reason', sa.String(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('datasets', JSON, nullable=False),
    sa.Column('candidate_provider', sa.String(), nullable=False),
    sa.Column('candidate_model', sa.String(), nullable=False),
    sa.Column('candidate', JSON, nullable=False),
    sa.Column('prompt', sa.Text(), nullable=True),
    sa.Column('rubrics', JSON, nullable=False),
    sa.Column('judge_model', sa.String(), nullable=True),
    sa.Column('judge_mode', sa.String(), nullable=False),
    sa.Column('settings', JSON, nullable=False),
    sa.Column('labels', JSON, nullable=False),
    sa.Column('submitted_by', sa.String(), nullable=True),
    sa.Column('budget_usd', sa.Float(), nullable=True),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.Column('started_at', TIMESTAMP, nullable=True),
    sa.Column('completed_at', TIMESTAMP, nullable=True),
    sa.Column('heartbeat_at', TIMESTAMP, nullable=True),
    sa.Column('worker_id', sa.String(), nullable=True),
    sa.Column('total_cases', sa.Integer(), server_default='0', nullable=False),
    sa.Column('passed_cases', sa.Integer(), server_default='0', nullable=False),
    sa.Column('failed_cases', sa.Integer(), server_default='0', nullable=False),
    sa.Column('unscored_cases', sa.Integer(), server_default='0', nullable=False),
    sa.Column('errored_cases', sa.Integer(), server_default='0', nullable=False),
    sa.Column('pass_rate', sa.Float(), nullable=True),
    sa.Column('avg_inference_ms', sa.Float(), nullable=True),
    sa.Column('p50_inference_ms', sa.Float(), nullable=True),
    sa.Column('p95_inference_ms', sa.Float(), nullable=True),
    sa.Column('input_tokens', sa.Integer(), server_default='0', nullable=False),
    sa.Column('output_tokens', sa.Integer(), server_default='0', nullable=False),
    sa.Column('generation_cost_usd', sa.Float(), server_default='0', nullable=False),
    sa.Column('judge_cost_usd', sa.Float(), server_default='0', nullable=False),
    sa.Column('cost_per_1k_requests_usd', sa.Float(), nullable=True),
    sa.Column('gate', NULLABLE_JSON, nullable=True),
    sa.CheckConstraint('"status" IN (\'pending\', \'running\', \'completed\', \'failed\', \'cancelled\')', name=op.f('ck_eval_run_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eval_run'))
    )
    op.create_index(op.f('ix_eval_run_group_id'), 'eval_run', ['group_id'], unique=False)
    op.create_index('ix_eval_run_name_id', 'eval_run', ['name', 'id'], unique=False)
    op.create_index(op.f('ix_eval_run_status'), 'eval_run', ['status'], unique=False)

    op.create_table('dataset_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset_version_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(), nullable=False),
    sa.Column('category', sa.String(), nullable=False),
    sa.Column('input', JSON, nullable=False),
    sa.Column('system_prompt', sa.Text(), nullable=True),
    sa.Column('attributes', JSON, nullable=False),
    sa.Column('criteria', JSON, nullable=False),
    sa.Column('expected_output', sa.Text(), nullable=True),
    sa.Column('reference_output', sa.Text(), nullable=True),
    sa.Column('production', NULLABLE_JSON, nullable=True),
    sa.Column('source_sample_id', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['dataset_version_id'], ['dataset_version.id'], name=op.f('fk_dataset_case_dataset_version_id_dataset_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dataset_case')),
    sa.UniqueConstraint('dataset_version_id', 'case_id', name=op.f('uq_dataset_case_dataset_version_id_case_id')),
    sa.UniqueConstraint('dataset_version_id', 'position', name=op.f('uq_dataset_case_dataset_version_id_position'))
    )
    op.create_table('eval_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('dataset_case_id', sa.Integer(), nullable=False),
    sa.Column('dataset', sa.String(), nullable=False),
    sa.Column('dataset_version', sa.String(length=16), nullable=False),
    sa.Column('case_id', sa.String(), nullable=False),
    sa.Column('category', sa.String(), nullable=False),
    sa.Column('state', sa.String(), nullable=False),
    sa.Column('worker_id', sa.String(), nullable=True),
    sa.Column('claimed_at', TIMESTAMP, nullable=True),
    sa.Column('output', sa.Text(), nullable=True),
    sa.Column('output_preview', sa.String(length=200), nullable=True),
    sa.Column('inference_ms', sa.Float(), nullable=True),
    sa.Column('input_tokens', sa.Integer(), nullable=True),
    sa.Column('output_tokens', sa.Integer(), nullable=True),
    sa.Column('generation_cost_usd', sa.Float(), nullable=True),
    sa.Column('judge_cost_usd', sa.Float(), nullable=True),
    sa.Column('cost_usd', sa.Float(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('verdict', sa.String(), nullable=True),
    sa.Column('unscored_reason', sa.Text(), nullable=True),
    sa.Column('criteria', JSON, nullable=False),
    sa.Column('checks', JSON, nullable=False),
    sa.Column('judgments', JSON, nullable=False),
    sa.Column('raw_reply', sa.Text(), nullable=True),
    sa.Column('judge_ms', sa.Float(), nullable=True),
    sa.Column('finished_at', TIMESTAMP, nullable=True),
    sa.CheckConstraint("verdict IS NULL OR verdict IN ('pass', 'fail', 'unscored', 'errored')", name=op.f('ck_eval_case_verdict')),
    sa.CheckConstraint('"state" IN (\'pending\', \'claimed\', \'generated\', \'done\')', name=op.f('ck_eval_case_state')),
    sa.ForeignKeyConstraint(['dataset_case_id'], ['dataset_case.id'], name=op.f('fk_eval_case_dataset_case_id_dataset_case')),
    sa.ForeignKeyConstraint(['run_id'], ['eval_run.id'], name=op.f('fk_eval_case_run_id_eval_run')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eval_case')),
    sa.UniqueConstraint('run_id', 'dataset_case_id', name=op.f('uq_eval_case_run_id_dataset_case_id'))
    )
    op.create_index('ix_eval_case_run_id_state', 'eval_case', ['run_id', 'state'], unique=False)



def downgrade() -> None:
    op.drop_index('ix_eval_case_run_id_state', table_name='eval_case')

    op.drop_table('eval_case')
    op.drop_table('dataset_case')
    op.drop_index(op.f('ix_eval_run_status'), table_name='eval_run')
    op.drop_index('ix_eval_run_name_id', table_name='eval_run')
    op.drop_index(op.f('ix_eval_run_group_id'), table_name='eval_run')

    op.drop_table('eval_run')
    op.drop_index(op.f('ix_dataset_version_name'), table_name='dataset_version')

    op.drop_table('dataset_version')
    op.drop_table('dataset')
