"""`flowc lsp` driven by a real client over stdio (pytest-lsp): open -> diagnostics -> edit -> new
diagnostics -> hover -> definition -> completion -> rename -> formatting -> shutdown, on the bundled
order-status example. The binary is $FLOWC (`.ci/run` builds it)."""

import os
import pathlib
import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

ROOT = pathlib.Path(__file__).resolve().parents[2]
FLOWC = os.environ.get("FLOWC", str(ROOT / "target" / "debug" / "flowc"))
EXAMPLE = ROOT / "examples" / "order_status.flow"
URI = EXAMPLE.as_uri()
TEXT = EXAMPLE.read_text()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[FLOWC, "lsp"]))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(
        types.InitializeParams(capabilities=types.ClientCapabilities(), root_uri=(ROOT / "examples").as_uri())
    )
    yield
    await lsp_client.shutdown_session()


def position(needle: str, offset: int = 0, text: str = TEXT) -> types.Position:
    index = text.index(needle) + offset
    line = text.count("\n", 0, index)
    column = len(text[text.rfind("\n", 0, index) + 1 : index].encode("utf-16-le")) // 2
    return types.Position(line=line, character=column)


@pytest.mark.asyncio
async def test_an_editing_session_on_the_order_status_example(client: LanguageClient):
    doc = types.TextDocumentIdentifier(uri=URI)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=URI, language_id="flow", version=1, text=TEXT)
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert list(client.diagnostics[URI]) == []

    # A typo, typed as an incremental change.
    at = position("@flow.lookup_response,", len("@flow.lookup_respons"))
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=2),
            content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=at, end=at), text="x")],
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    codes = [d.code for d in client.diagnostics[URI]]
    assert "flowc::check::unknown_variable" in codes, codes
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=3),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=TEXT)],
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert list(client.diagnostics[URI]) == []

    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=doc, position=position("@flow.lookup_response", 7))
    )
    assert "defined by `wait`" in hover.contents.value, hover

    definition = await client.text_document_definition_async(
        types.DefinitionParams(text_document=doc, position=position("goto ask", 6))
    )
    assert definition[0].range.start == position("ask {"), definition

    completion = await client.text_document_completion_async(
        types.CompletionParams(text_document=doc, position=position("@extra.number", 7))
    )
    labels = [i.label for i in completion]
    assert "status" in labels and "ship_date" in labels, labels

    references = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=doc,
            position=position("ask {", 1),
            context=types.ReferenceContext(include_declaration=True),
        )
    )
    assert len(references) == 2, references

    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc))
    assert [s.name for s in symbols] == ["orders", "order_status"], symbols

    folding = await client.text_document_folding_range_async(types.FoldingRangeParams(text_document=doc))
    assert any(f.start_line == position("flow order_status").line for f in folding), folding

    tokens = await client.text_document_semantic_tokens_full_async(types.SemanticTokensParams(text_document=doc))
    assert len(tokens.data) % 5 == 0 and len(tokens.data) > 20, tokens

    # A quick fix for a typo.
    typo = TEXT.replace("goto ask", "goto asx")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=4),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=typo)],
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    at_typo = position("goto asx", 5, typo)
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=doc,
            range=types.Range(start=at_typo, end=at_typo),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert [a.title for a in actions] == ["Replace `asx` with `ask`"], actions
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=5),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=TEXT)],
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)

    edit = await client.text_document_rename_async(
        types.RenameParams(text_document=doc, position=position("wait lookup_response", 6), new_name="order_number")
    )
    assert len(edit.changes[URI]) >= 4, edit

    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(text_document=doc, options=types.FormattingOptions(tab_size=2, insert_spaces=True))
    )
    assert not edits, "the example is formatted"


@pytest.mark.asyncio
async def test_dates_and_channels_in_the_editor(client: LanguageClient):
    """The appointment example's date tests and functions are explained, `dates` is completed, and a
    channel named in a trigger leads to its definition in the sms_signup example."""
    appointment = ROOT / "examples" / "appointment.flow"
    text = appointment.read_text()
    uri = appointment.as_uri()
    doc = types.TextDocumentIdentifier(uri=uri)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="flow", version=1, text=text)
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert list(client.diagnostics[uri]) == []
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=doc, position=position("has_date_lt", 3, text))
    )
    assert "a date before the argument" in hover.contents.value, hover
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=doc, position=position("datetime_add", 3, text))
    )
    assert "n units later" in hover.contents.value, hover

    # The order after `dates`, typed anew.
    edited = text.replace("dates day_first", "dates ")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=edited)],
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    completion = await client.text_document_completion_async(
        types.CompletionParams(text_document=doc, position=position("dates ", 6, edited))
    )
    assert [i.label for i in completion] == ["day_first", "month_first", "year_first"], completion

    signup = ROOT / "examples" / "sms_signup.flow"
    signup_text = signup.read_text()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=signup.as_uri(), language_id="flow", version=1, text=signup_text)
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    definition = await client.text_document_definition_async(
        types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=signup.as_uri()),
            position=position("catchall channel sms", len("catchall channel "), signup_text),
        )
    )
    assert definition[0].range.start == position("sms external", 0, signup_text), definition
