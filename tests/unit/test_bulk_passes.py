"""Bulk issuing (passes/bulk.py, bulk_jobs.py) on a real store and a real process pool: the same rules as
one pass at a time, per target; the result taken once; an interrupted run honest and resumable; the report."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from passbridge.clock import ManualClock
from passbridge.directory.rules import Role
from passbridge.directory.tenant import Initialised
from passbridge.domain.errors import InvalidInput, PermissionDenied
from passbridge.passes import bulk, bulk_jobs
from passbridge.passes import policy_queries as policy_store
from passbridge.passes.bulk_csv import read_names, result_csv
from passbridge.passes.policy_rules import PolicyState
from passbridge.passes.rules import PassRequest
from passbridge.services.context import Env, Principal, operator
from passbridge.store.models import AuditEntry, BulkPassItem, BulkPassJob, TemporaryAccessPass, User
from tests.factories import make_group, make_user
from tests.unit.test_tap_service import application, delegated, issue

WRITE = "UserAuthenticationMethod.ReadWrite.All"


def start(
    env: Env, targets: list[str], who: Principal | None = None, *, keep: bool = True, **wanted: object
) -> str:
    with env.db.transaction() as tx:
        return bulk.create_job(
            tx, env, who or operator(), source="test", targets=targets,
            request=PassRequest(**wanted), keeps_result=keep,  # type: ignore[arg-type]
        )  # fmt: skip


def run(env: Env, job_id: str, who: Principal | None = None, **kw: object) -> list[bulk.Outcome]:
    return bulk.BulkRun(env, who or operator(), job_id, keep_values=True, processes=2, **kw).run()  # type: ignore[arg-type]


def by_upn(outcomes: list[bulk.Outcome]) -> dict[str, bulk.Outcome]:
    return {o.upn or o.target: o for o in outcomes}


def hash_of(env: Env, user_id: str) -> str:
    with env.db.transaction("read") as tx:
        found = tx.session.scalar(
            select(TemporaryAccessPass.secret_hash).where(TemporaryAccessPass.user_id == user_id)
        )
        assert found is not None
        return str(found)


def test_bulk_issues_every_member_a_pass_that_signs_in(env: Env, tenant: Initialised) -> None:
    people = [make_user(env, f"hire{n}@contoso.example") for n in range(3)]
    group = make_group(env, "New hires", members=tuple(p.id for p in people))
    with env.db.transaction() as tx:
        name, targets = bulk.group_targets(tx, env, operator(), group.id)
    assert name == "New hires" and sorted(targets) == sorted(p.id for p in people)
    outcomes = run(env, start(env, targets))
    assert [o.status for o in outcomes] == ["issued"] * 3
    for person in people:
        got = by_upn(outcomes)[person.user_principal_name]
        assert got.value is not None and len(got.value) == 8
        # Hashed in a worker process, verified by the keeper as a sign-in does: the same Argon2id and pepper.
        assert env.keeper.slow_hash_matches(got.value, hash_of(env, person.id))
        assert not env.keeper.slow_hash_matches(got.value + "x", hash_of(env, person.id))


def test_bulk_refuses_per_target_with_the_reason(env: Env, tenant: Initialised) -> None:
    helpdesk = make_user(env, "helpdesk@contoso.example", roles=("Authentication Administrator",))
    plain = make_user(env, "plain@contoso.example")
    who = delegated(helpdesk, WRITE, roles=(Role.AUTHENTICATION_ADMINISTRATOR,))
    targets = ["plain@contoso.example", "nobody@contoso.example", tenant.admin.user_principal_name,
               "helpdesk@contoso.example", "PLAIN@contoso.example"]  # fmt: skip
    outcomes = run(env, start(env, targets, who), who)
    assert [o.status for o in outcomes] == ["issued", "refused", "refused", "refused", "refused"]
    reasons = [o.reason or "" for o in outcomes]
    assert reasons[1].startswith("not found:")
    assert reasons[2].startswith("not allowed:") and "administrator role" in reasons[2]
    assert reasons[3].startswith("not allowed:") and "yourself" in reasons[3]
    assert reasons[4].startswith("listed twice")
    assert [o.value is None for o in outcomes] == [False, True, True, True, True]
    with env.db.transaction("read") as tx:
        assert (
            tx.session.scalar(select(func.count()).select_from(TemporaryAccessPass)) == 2
        )  # admin's + plain's
        job = tx.session.scalars(select(BulkPassJob)).one()
    assert (job.state, job.total, job.done, job.issued, job.refused) == ("done", 5, 5, 1, 4)
    assert plain.id in {o.user_id for o in outcomes}


def test_bulk_replaces_the_previous_pass_audits_and_ends_sessions(
    env: Env, tenant: Initialised, clock: ManualClock
) -> None:
    ada = make_user(env, "ada@contoso.example")
    old = issue(env, ada.id)
    clock.advance(minutes=1)
    with env.db.transaction("read") as tx:
        audits_before = tx.session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    outcomes = run(env, start(env, [ada.id]))
    with env.db.transaction("read") as tx:
        rows = list(
            tx.session.scalars(select(TemporaryAccessPass).where(TemporaryAccessPass.user_id == ada.id))
        )
        valid_from = tx.session.scalar(select(User.sessions_valid_from).where(User.id == ada.id))
        new_activities = list(
            tx.session.scalars(
                select(AuditEntry.activity_display_name).order_by(AuditEntry.activity_date_time)
            )
        )[audits_before:]
    assert len(rows) == 1 and rows[0].id != old.view.id and rows[0].id == outcomes[0].pass_id
    assert valid_from == clock.now()
    assert sorted(new_activities) == sorted(
        [
            "Admin deleted security info",
            "Admin registered security info",
            "Invalidate all refresh tokens for user",
        ]
    )


def test_bulk_refuses_the_whole_run_when_the_policy_refuses_the_terms(env: Env, tenant: Initialised) -> None:
    make_user(env, "ada@contoso.example")
    with pytest.raises(InvalidInput, match="LifetimeInMinutes"):
        start(env, ["ada@contoso.example"], lifetime_minutes=5)
    with env.db.transaction() as tx:
        policy, _ = policy_store.load(tx)
        policy_store.save(tx, replace(policy, state=PolicyState.DISABLED), now=env.clock.now())
    with pytest.raises(InvalidInput, match="disabled"):
        start(env, ["ada@contoso.example"])
    with env.db.transaction("read") as tx:
        assert tx.session.scalar(select(func.count()).select_from(BulkPassJob)) == 0


def test_bulk_needs_the_permission_and_a_role_to_start(env: Env, tenant: Initialised) -> None:
    ada = make_user(env, "ada@contoso.example")
    with pytest.raises(PermissionDenied):
        start(env, [ada.id], application("User.Read.All"))
    with pytest.raises(PermissionDenied, match="Authentication Administrator"):
        start(env, [ada.id], delegated(ada, WRITE))
    group = make_group(env, "G")
    # Reading a group's members needs a group permission too.
    with pytest.raises(PermissionDenied), env.db.transaction() as tx:
        bulk.group_targets(tx, env, application(WRITE), group.id)


def test_result_is_taken_once_then_gone(env: Env, tenant: Initialised) -> None:
    ada = make_user(env, "ada@contoso.example")
    job = start(env, [ada.id, "nobody@contoso.example"])
    run(env, job)
    with env.db.transaction("read") as tx:
        sealed = list(tx.session.scalars(select(BulkPassItem.sealed_pass)))
    assert sealed[0] and sealed[1] is None
    with env.db.transaction() as tx:
        taken = bulk_jobs.take_result(tx, env, operator(), job)
    assert [o.status for o in taken] == ["issued", "refused"]
    assert taken[0].value is not None and env.keeper.slow_hash_matches(taken[0].value, hash_of(env, ada.id))
    assert taken[0].value not in sealed[0]
    with env.db.transaction("read") as tx:
        assert list(tx.session.scalars(select(BulkPassItem.sealed_pass))) == [None, None]
    with pytest.raises(bulk_jobs.ResultGone), env.db.transaction() as tx:
        bulk_jobs.take_result(tx, env, operator(), job)


def test_someone_else_cannot_see_or_take_a_job(env: Env, tenant: Initialised) -> None:
    ada = make_user(env, "ada@contoso.example")
    one = delegated(tenant.admin, WRITE, roles=(Role.GLOBAL_ADMINISTRATOR,))
    other = delegated(make_user(env, "other@contoso.example"), WRITE, roles=(Role.GLOBAL_ADMINISTRATOR,))
    job = start(env, [ada.id], one)
    run(env, job, one)
    with pytest.raises(Exception, match="No bulk pass job"), env.db.transaction() as tx:
        bulk_jobs.take_result(tx, env, other, job)
    with env.db.transaction() as tx:
        assert bulk_jobs.take_result(tx, env, one, job)[0].status == "issued"


def test_a_run_cut_short_keeps_its_passes_and_resumes_for_the_rest(
    env: Env, tenant: Initialised, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = [make_user(env, f"hire{n}@contoso.example") for n in range(4)]
    monkeypatch.setattr(bulk, "BATCH", 2)
    monkeypatch.setattr(bulk, "TASK", 1)
    monkeypatch.setattr(bulk, "AHEAD", 1)

    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt  # as Ctrl-C, or a shutdown, between two batches

    # The last name repeats the first: after the stop, the first still has the only pass of the run.
    job = start(env, [p.id for p in people] + [people[0].user_principal_name])
    with pytest.raises(KeyboardInterrupt):
        run(env, job, progress=stop)
    with env.db.transaction() as tx:
        view = bulk_jobs.get_job(tx, env, operator(), job)
        assert (view.state, view.job.done, view.resumable) == ("failed", 2, True)
        assert "after 2 of 5" in (view.job.message or "")
        bulk_jobs.resume(tx, env, operator(), job)
    run(env, job)
    with env.db.transaction() as tx:
        taken = bulk_jobs.take_result(tx, env, operator(), job)
    assert [o.status for o in taken] == ["issued"] * 4 + ["refused"]
    assert (taken[4].reason or "").startswith("listed twice")
    for person, got in zip(people, taken[:4], strict=True):
        assert got.value is not None and env.keeper.slow_hash_matches(got.value, hash_of(env, person.id))


def test_a_job_whose_heartbeat_stopped_is_shown_interrupted(
    env: Env, tenant: Initialised, clock: ManualClock
) -> None:
    ada = make_user(env, "ada@contoso.example")
    job = start(env, [ada.id])
    with env.db.transaction() as tx:
        tx.execute(update(BulkPassJob).values(state="running"))  # as a process killed mid-run leaves it
    clock.advance(seconds=bulk_jobs.STALE.total_seconds() - 1)
    with env.db.transaction() as tx:
        assert bulk_jobs.get_job(tx, env, operator(), job).state == "running"
    clock.advance(seconds=2)
    with env.db.transaction() as tx:
        view = bulk_jobs.mark_interrupted(tx, env, operator(), job)
    assert (view.job.state, view.resumable) == ("interrupted", True)
    assert "Interrupted after 0 of 1" in (view.job.message or "")


def test_report_tells_used_from_expired_unused(env: Env, tenant: Initialised, clock: ManualClock) -> None:
    used, idle, replaced = (make_user(env, f"{n}@contoso.example") for n in ("used", "idle", "replaced"))
    job = start(env, [used.id, idle.id, replaced.id], lifetime_minutes=60)
    run(env, job)
    with env.db.transaction() as tx:
        tx.execute(
            update(TemporaryAccessPass)
            .where(TemporaryAccessPass.user_id == used.id)
            .values(used_at=clock.now())
        )
    issue(env, replaced.id)
    with env.db.transaction("read") as tx:
        before = {x.upn: x.use for x in bulk_jobs.report(tx, env, operator(), job)}
    assert before == {"used@contoso.example": "used", "idle@contoso.example": "not used yet",
                      "replaced@contoso.example": "replaced or revoked"}  # fmt: skip
    clock.advance(minutes=61)
    with env.db.transaction("read") as tx:
        after = {x.upn: x.use for x in bulk_jobs.report(tx, env, operator(), job)}
    assert after["idle@contoso.example"] == "expired unused" and after["used@contoso.example"] == "used"


def test_a_start_time_is_kept_for_every_pass(env: Env, tenant: Initialised, clock: ManualClock) -> None:
    ada = make_user(env, "ada@contoso.example")
    first_day = clock.now() + timedelta(days=3)
    got = run(env, start(env, [ada.id], start=first_day, is_usable_once=True))[0]
    assert (got.start, got.end, got.one_time) == (first_day, first_day + timedelta(minutes=60), True)


def test_result_csv_never_starts_a_spreadsheet_formula() -> None:
    names = read_names(b'\xef\xbb\xbfUPN\n=HYPERLINK("x")\n@SUM(1)\nada@contoso.example\n', "names.csv")
    assert names == ['=HYPERLINK("x")', "@SUM(1)", "ada@contoso.example"]
    refused = [bulk.Outcome(i, n, None, "refused", "not found: " + n) for i, n in enumerate(names)]
    rows = list(csv.reader(io.StringIO(result_csv(refused))))
    assert [r[0] for r in rows[1:]] == ['\'=HYPERLINK("x")', "'@SUM(1)", "ada@contoso.example"]
