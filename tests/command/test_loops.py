"""The loops as state machines, on any sequence of attempted moves (Hypothesis): a status changes only
along an allowed edge, the finished states are final, and a measure is verified only from a submitted
rectification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from fangkong.command.models import (
    MEASURE_TRANSITIONS,
    TASK_TRANSITIONS,
    Measure,
    MeasureStatus,
    Task,
    TaskStatus,
)
from fangkong.core.errors import Conflict

T0 = datetime(2021, 1, 20, tzinfo=UTC)


@given(st.lists(st.sampled_from(list(TaskStatus)), max_size=30))
def test_a_task_moves_only_along_the_loop(moves: list[TaskStatus]) -> None:
    task = Task(status=TaskStatus.DRAFT)
    for i, to in enumerate(moves):
        before = task.status
        try:
            task.move_to(to, T0 + timedelta(minutes=i))
        except Conflict:
            assert to not in TASK_TRANSITIONS[before] and task.status is before
            continue
        assert to in TASK_TRANSITIONS[before] and task.status is to
        assert before not in (TaskStatus.DONE, TaskStatus.CANCELLED)
    if task.status is TaskStatus.DONE:
        assert task.done_at is not None and task.assigned_at is not None
    if task.status is TaskStatus.OVERDUE:
        assert task.overdue_at is not None


@given(st.lists(st.sampled_from(list(MeasureStatus)), max_size=30))
def test_a_measure_is_verified_only_from_a_submitted_rectification(moves: list[MeasureStatus]) -> None:
    measure = Measure(status=MeasureStatus.OPEN, created_at=T0)
    for i, to in enumerate(moves):
        before = measure.status
        try:
            measure.move_to(to, T0 + timedelta(hours=i + 1))
        except Conflict:
            assert to not in MEASURE_TRANSITIONS[before]
            continue
        if to is MeasureStatus.VERIFIED:
            assert before is MeasureStatus.SUBMITTED
            assert measure.seconds_to_verified == (i + 1) * 3600
    assert MEASURE_TRANSITIONS[MeasureStatus.VERIFIED] == frozenset()
