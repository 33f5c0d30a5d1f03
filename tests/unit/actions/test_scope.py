"""action_describe_scope: greeting, capabilities and out-of-scope replies name the documents in
force of the knowledge base actually loaded, and fall back to a generic wording without one."""

from __future__ import annotations

import re

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.scope import ActionDescribeScope

FIXTURES = {"greet": "utter_greet", "ask_capabilities": "utter_capabilities",
            "out_of_scope": "utter_out_of_scope"}


def responses(dispatcher: CollectingDispatcher) -> list[str]:
    return [m["response"] for m in dispatcher.messages]


@pytest.mark.parametrize(("fixture", "response"), FIXTURES.items())
def test_the_opinion_alone_is_named_by_its_short_title(
    kb_env, load_tracker, run_action, dispatcher, render, fixture: str, response: str
) -> None:
    assert run_action(ActionDescribeScope(), load_tracker(fixture)) == []

    assert responses(dispatcher) == [response]
    [message] = dispatcher.messages
    assert (message["documents"], message["count"]) == ("《差别化管控意见》", 1)
    shown = render(message)
    assert "《差别化管控意见》" in shown
    assert "《差别化管控意见》等" not in shown and "份现行文件" not in shown


@pytest.mark.parametrize(("fixture", "response"), FIXTURES.items())
def test_with_the_related_laws_two_are_named_and_the_rest_counted(
    related_kb_env, load_tracker, run_action, dispatcher, render, fixture: str, response: str
) -> None:
    run_action(ActionDescribeScope(), load_tracker(fixture))

    assert responses(dispatcher) == [f"{response}_many"]
    [message] = dispatcher.messages
    in_force = [d for d in related_kb_env.retriever.documents.values() if d["in_force"]]
    assert message["count"] == len(in_force) == 8
    shown = render(message)
    assert "《差别化管控意见》《生态环境法典》等8份现行文件" in shown
    assert "环境保护法" not in shown  # repealed


@pytest.mark.parametrize(("fixture", "response"), FIXTURES.items())
def test_an_unavailable_knowledge_base_gets_the_generic_wording(
    unavailable_kb, load_tracker, run_action, dispatcher, render, fixture: str, response: str
) -> None:
    run_action(ActionDescribeScope(), load_tracker(fixture))

    assert responses(dispatcher) == [f"{response}_generic"]
    shown = render(dispatcher.messages[0])
    assert "《" not in shown and "{" not in shown


def test_an_unreadable_knowledge_base_is_logged_and_still_greeted(
    monkeypatch, load_tracker, run_action, dispatcher, caplog
) -> None:
    def broken():
        raise OSError("disk gone")

    monkeypatch.setattr("actions.scope.knowledge_base", broken)
    run_action(ActionDescribeScope(), load_tracker("greet"))
    assert responses(dispatcher) == ["utter_greet_generic"]
    assert "knowledge base unreadable" in caplog.text


def test_out_of_scope_still_says_where_the_assistant_helps_and_offers_a_human(
    kb_env, load_tracker, run_action, dispatcher, render
) -> None:
    run_action(ActionDescribeScope(), load_tracker("out_of_scope"))
    shown = render(dispatcher.messages[0])
    assert "河北" in shown and "转人工" in shown


def test_another_intent_gets_the_capabilities(kb_env, load_tracker, run_action, dispatcher):
    run_action(ActionDescribeScope(), load_tracker("greet", intent="bot_challenge"))
    assert responses(dispatcher) == ["utter_capabilities"]


def test_no_response_hard_codes_a_document_title(domain) -> None:
    """Every book-title mark in a reply is around a placeholder the actions fill from the
    knowledge base: 《{law}》, never 《关于…的意见》."""
    for name, variants in domain["responses"].items():
        for variant in variants:
            text = variant.get("text", "")
            assert not re.search(r"《(?!\{)", text), name
            assert "差别化管控意见" not in text and "生态环境法典" not in text, name
