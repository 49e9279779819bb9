"""`flask --app web reanalyse --model-version OLD`: everything an older model made, on the bulk queue, resumable.

Interrupted for real (the database refuses a write halfway through; the broker is down), then run again: each old
analysis is re-analysed exactly once. Both databases; jobs on a real Redis.
"""
from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import text, update

from shared import model_version, storage
from shared.models import Analysis, Status
from tests.test_reanalysis import NEW, OLD, finish, queued_ids, rows, upload

INTERRUPT_AFTER = 4  # re-analyses the database lets the first run make

SQLITE_TRIGGER = f"""CREATE TRIGGER interrupt BEFORE INSERT ON analyses
WHEN NEW.reanalysis_of IS NOT NULL
  AND (SELECT count(*) FROM analyses WHERE reanalysis_of IS NOT NULL) >= {INTERRUPT_AFTER}
BEGIN SELECT RAISE(ABORT, 'interrupted'); END"""
POSTGRES_TRIGGER = [f"""CREATE FUNCTION interrupt() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
  IF NEW.reanalysis_of IS NOT NULL AND (SELECT count(*) FROM analyses WHERE reanalysis_of IS NOT NULL)
     >= {INTERRUPT_AFTER} THEN RAISE EXCEPTION 'interrupted'; END IF;
  RETURN NEW; END $$""",
                    "CREATE TRIGGER interrupt BEFORE INSERT ON analyses FOR EACH ROW EXECUTE FUNCTION interrupt()"]


def _sql(app, *statements: str) -> None:
    with app.extensions["db_engine"].begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


@pytest.fixture
def old_analyses(app, client):
    """Seven analyses of the old model, one of them purged and one whose file is gone; one of the current model."""
    ids = [upload(client, color=(i * 20, 5, 5)) for i in range(9)]
    for analysis_id in ids[:7]:
        finish(app, analysis_id)
    finish(app, ids[5], purged_at=rows(app, id=ids[5])[0].created_at)
    storage.path_for(app.config["SETTINGS"].upload_dir, rows(app, id=ids[6])[0].sha256).unlink()
    finish(app, ids[7], model_version.of(app.config["SETTINGS"].model_path))
    return ids


def test_interrupted_then_run_again_reanalyses_each_exactly_once(app, old_analyses, overrides):
    runner = app.test_cli_runner()
    eligible = old_analyses[:5]
    dialect = app.extensions["db_engine"].dialect.name
    _sql(app, *([SQLITE_TRIGGER] if dialect == "sqlite" else POSTGRES_TRIGGER))
    try:
        first = runner.invoke(args=["reanalyse", "--model-version", OLD[:10], "--chunk", "2"])
    finally:
        _sql(app, "DROP TRIGGER interrupt" + ("" if dialect == "sqlite" else " ON analyses"),
             *([] if dialect == "sqlite" else ["DROP FUNCTION interrupt()"]))
    assert first.exit_code != 0 and "interrupted" in str(first.exception)
    assert "6 analyses to re-analyse" in first.output and "queued 4 of 6" in first.output  # the file-less one too
    made = [a for a in rows(app) if a.reanalysis_of]
    assert len(made) == INTERRUPT_AFTER and {a.reanalysis_of for a in made} == set(eligible[:4])  # oldest first
    bulk = overrides["bulk_queue"]
    assert sorted(queued_ids(bulk)) == sorted(a.id for a in made)  # committed chunks were enqueued, on bulk
    assert queued_ids(overrides["queue"]) == [a for a in queued_ids(overrides["queue"]) if a in old_analyses]

    second = runner.invoke(args=["reanalyse", "--model-version", OLD[:10], "--chunk", "2"])
    assert second.exit_code == 0, second.output
    assert "2 analyses to re-analyse" in second.output
    assert "queued 1 re-analyses; 1 skipped, their image no longer stored" in second.output
    made = [a for a in rows(app) if a.reanalysis_of]
    assert Counter(a.reanalysis_of for a in made) == Counter(eligible)  # each exactly once
    assert Counter(queued_ids(bulk)) == Counter(a.id for a in made)  # and each sent once
    assert all(a.status == Status.QUEUED and a.api_key_id is None and a.maps_state is None for a in made)

    third = runner.invoke(args=["reanalyse", "--model-version", OLD])
    assert third.exit_code == 0 and "queued 0 re-analyses; 1 skipped" in third.output  # only the file-less one
    # what the workers then did: one re-analysis failed, one came back from the old model (an old worker)
    current = model_version.of(app.config["SETTINGS"].model_path)
    by_old = {a.reanalysis_of: a.id for a in made}
    with app.extensions["db_sessionmaker"]() as s:
        s.execute(update(Analysis).where(Analysis.id.in_([by_old[i] for i in eligible[2:]])).values(
            status=Status.DONE, model_version=current))
        s.execute(update(Analysis).where(Analysis.id == by_old[eligible[0]]).values(status=Status.FAILED))
        s.execute(update(Analysis).where(Analysis.id == by_old[eligible[1]]).values(status=Status.DONE,
                                                                                      model_version=NEW))
        s.commit()
    fourth = runner.invoke(args=["reanalyse", "--model-version", OLD, "--limit", "1"])
    assert fourth.exit_code == 0 and "3 analyses to re-analyse" in fourth.output and "queued 1 re-an" in fourth.output
    assert [a.reanalysis_of for a in rows(app, status=Status.QUEUED) if a.reanalysis_of] == [eligible[0]]


def test_a_broker_that_is_down_stops_the_run_and_the_saved_chunk_is_not_sent_twice(app, old_analyses, overrides):
    from web import create_app

    down = create_app(overrides | {"redis_url": "redis://127.0.0.1:1/0"})  # nothing listens there
    out = down.test_cli_runner().invoke(args=["reanalyse", "--model-version", OLD, "--chunk", "3"])
    down.extensions["db_engine"].dispose()
    assert out.exit_code != 0 and "run the command again to continue" in out.output
    saved = [a for a in rows(app) if a.reanalysis_of]
    assert len(saved) == 3 and all(a.enqueued_at is None for a in saved)  # the workers' sweep sends these
    again = app.test_cli_runner().invoke(args=["reanalyse", "--model-version", OLD, "--chunk", "3"])
    assert again.exit_code == 0 and "3 analyses to re-analyse" in again.output
    made = [a for a in rows(app) if a.reanalysis_of]
    assert Counter(a.reanalysis_of for a in made) == Counter(old_analyses[:5])
    saved_ids = {a.id for a in saved}
    assert sorted(queued_ids(overrides["bulk_queue"])) == sorted(a.id for a in made if a.id not in saved_ids)


def test_the_model_version_must_name_one_older_model(app, old_analyses):
    runner = app.test_cli_runner()
    current = model_version.of(app.config["SETTINGS"].model_path)
    assert "is the current model version" in runner.invoke(args=["reanalyse", "--model-version", current]).output
    assert "no analysis was made" in runner.invoke(args=["reanalyse", "--model-version", "nope"]).output
    finish(app, old_analyses[8], OLD[:-1] + "2")
    out = runner.invoke(args=["reanalyse", "--model-version", OLD[:5]])
    assert out.exit_code != 0 and "names 2 model versions" in out.output
    assert not [a for a in rows(app) if a.reanalysis_of]
