from __future__ import annotations

import threading

import pytest

from airflow_provider_lakeops.notifications._bounded import call_bounded, call_bounded_many, describe_error


def test_call_bounded_returns_true_when_the_call_finishes():
    done = []
    assert call_bounded(lambda: done.append(1), timeout=5, what="quick") is True
    assert done == [1]


def test_call_bounded_swallows_errors_and_warns(logs):
    def boom():
        raise RuntimeError("endpoint answered 500")

    assert call_bounded(boom, timeout=5, what="flaky endpoint") is False
    assert "flaky endpoint failed" in logs()
    assert "RuntimeError: endpoint answered 500" in logs()


def test_call_bounded_swallows_base_exceptions_too():
    def exit_():
        raise SystemExit(3)

    assert call_bounded(exit_, timeout=5, what="exit") is False


def test_call_bounded_gives_up_on_a_slow_call_without_waiting_for_it(logs):
    release = threading.Event()
    finished = threading.Event()

    def slow():
        release.wait(30)
        finished.set()

    assert call_bounded(slow, timeout=0.2, what="slow endpoint") is False
    # we came back while the call was still blocked: it had not finished
    assert not finished.is_set()
    assert "did not finish within 0.2 s" in logs()
    release.set()
    assert finished.wait(5)


def test_call_bounded_many_runs_channels_in_parallel_and_reports_each():
    release = threading.Event()
    started: list[str] = []

    def blocked():
        started.append("blocked")
        release.wait(30)

    results = call_bounded_many(
        [("ok", lambda: started.append("ok")), ("blocked", blocked), ("bad", lambda: 1 / 0)], timeout=0.3
    )
    release.set()
    assert results == {"ok": True, "blocked": False, "bad": False}
    assert sorted(started) == ["blocked", "ok"]


def test_describe_error_trims_and_masks():
    from airflow.sdk.log import mask_secret

    mask_secret("s3cr3t-value-for-describe")
    text = describe_error(ValueError("token s3cr3t-value-for-describe " + "x" * 1000), limit=80)
    assert "s3cr3t-value-for-describe" not in text
    assert text.startswith("ValueError: token ***")
    assert len(text) == 80
    assert text.endswith("...")


@pytest.mark.parametrize("timeout", [0, -1], ids=["zero", "negative"])
def test_call_bounded_with_non_positive_timeout_does_not_block(timeout):
    release = threading.Event()
    assert call_bounded(lambda: release.wait(30), timeout=timeout, what="t") is False
    release.set()
