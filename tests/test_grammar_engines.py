"""The shipped grammar file works with the constrained decoders and the Lark versions the
project supports: llguidance and xgrammar (when installed) must accept it, and it must use
only grammar syntax that lark 1.2 (pinned by vLLM) and 1.3 both understand."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import grammar

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.mas"))


def test_llguidance_accepts_the_grammar() -> None:
    llguidance = pytest.importorskip("llguidance")
    error = llguidance.LLMatcher.validate_grammar(
        llguidance.grammar_from("lark", grammar.grammar_text()))
    assert error == ""


def test_llguidance_rejects_a_broken_grammar() -> None:
    """Guards the test above: validate_grammar really reports errors."""
    llguidance = pytest.importorskip("llguidance")
    error = llguidance.LLMatcher.validate_grammar(
        llguidance.grammar_from("lark", "start: foo{x}\nfoo{a}: a"))
    assert error != ""


@pytest.fixture(scope="module")
def xgrammar_grammar() -> Any:
    xgrammar = pytest.importorskip(
        "xgrammar", reason="xgrammar is optional (pip install --no-deps xgrammar==0.2.8 "
        "apache-tvm-ffi; its triton dependency is only needed on GPUs)")
    return xgrammar.Grammar.from_lark(grammar.grammar_text())


def test_xgrammar_accepts_the_grammar(xgrammar_grammar: Any) -> None:
    assert "spec ::=" in str(xgrammar_grammar)


def test_xgrammar_grammar_accepts_the_examples(xgrammar_grammar: Any) -> None:
    """The decoder's view of the language matches the parser's on real specs. xgrammar does
    not skip whitespace or comments before the first token, so text starts at `mas`."""
    from xgrammar.testing import _is_grammar_accept_string

    for example in EXAMPLES:
        text = example.read_text(encoding="utf-8")
        assert _is_grammar_accept_string(xgrammar_grammar, text[text.index("mas "):]), example
    assert not _is_grammar_accept_string(xgrammar_grammar, "mas x { flow { a = } }")


# Syntax a Lark grammar may use here: what lark has understood since 1.0 and what the
# decoders accept. Newer or engine-unsupported features are listed with the reason.
_FORBIDDEN = {
    r"%(override|extend|declare)\b": "grammar composition directives",
    r"%import\s+(?!common\.)": "imports other than common.*",
    r"\w\{": "rule templates",
    r"~": "repetition ranges",
    r"^[?!_]?\w+\.-?\d+\s*:": "priorities",
    r"\(\?[=!<]": "lookaround",
}


def _without_literals(text: str) -> str:
    """The grammar with comments, "strings" and /regexes/ blanked out."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(?:[^"\\\n]|\\.)*"i?', '""', text)
    return re.sub(r"/(?:[^/\\\n]|\\.)+/[imsulx]*", "//", text)


def test_grammar_uses_only_syntax_from_lark_1_2_and_the_decoders_subset() -> None:
    text = grammar.grammar_text()
    structure = _without_literals(text)
    for pattern, feature in _FORBIDDEN.items():
        found = re.search(pattern, structure, flags=re.MULTILINE)
        assert found is None, f"the grammar uses {feature}: {found.group() if found else ''}"
    for pattern, feature in [(r"\\[1-9]", "backreferences"), (r"\(\?[=!<]", "lookaround"),
                             (r"/[imsulx]+\s*$", "regex flags")]:
        for regex in re.findall(r"/(?:[^/\\\n]|\\.)+/[imsulx]*", re.sub(r"//[^\n]*", "", text)):
            assert re.search(pattern, regex) is None, f"{feature} in {regex}"


def test_the_syntax_check_catches_newer_features() -> None:
    for bad in ["start: a\n%override a: b", "start: x{a}", "start: a~2", "A.2: /x/",
                "%import python.NAME"]:
        structure = _without_literals(bad)
        assert any(re.search(p, structure, flags=re.MULTILINE) for p in _FORBIDDEN), bad


def test_the_decoding_grammar_is_a_bounded_comment_free_subset() -> None:
    from lark import Lark
    from lark.exceptions import UnexpectedInput

    from masdsl.parser import comments

    llguidance = pytest.importorskip("llguidance")
    text = grammar.decoding_grammar_text()
    assert llguidance.LLMatcher.validate_grammar(llguidance.grammar_from("lark", text)) == ""
    decoding = Lark(text, parser="lalr", lexer="contextual")
    for path in EXAMPLES:
        spec = path.read_text()
        for comment in reversed(comments(spec)):
            spec = spec[:comment.span.start] + spec[comment.span.end:]
        decoding.parse(spec)          # comment-free examples are in the language
        grammar.parser().parse(spec)  # and so in the shipped one
    with pytest.raises(UnexpectedInput):
        decoding.parse('mas a { # no comments\n }')
    long_role = '"' + "x" * (grammar.DECODING_MAX_STRING + 1) + '"'
    with pytest.raises(UnexpectedInput):
        decoding.parse(f"mas a {{ agent b {{ role {long_role} }} }}")
    grammar.parser().parse(f"mas a {{ agent b {{ role {long_role} }} }}")


def test_the_interface_decoding_grammar_forces_the_declarations_and_a_flow() -> None:
    from lark import Lark
    from lark.exceptions import UnexpectedInput

    llguidance = pytest.importorskip("llguidance")
    text = grammar.decoding_grammar_text((("question", "text"),), (("answer", "number"),))
    assert llguidance.LLMatcher.validate_grammar(llguidance.grammar_from("lark", text)) == ""
    decoding = Lark(text, parser="lalr", lexer="contextual")
    good = ('mas a { input question: text output answer: number '
            'agent s -> number { role "x" } flow { answer = s(question) } }')
    decoding.parse(good)
    grammar.parser().parse(good)
    for bad in ('mas a { input question: text output answer: text flow { answer = s(q) } }',
                'mas a { input question: text output answer: number agent s { role "x" } }',
                'mas a { agent s { role "x" } input question: text output answer: number '
                'flow { answer = s(question) } }'):
        with pytest.raises(UnexpectedInput):
            decoding.parse(bad)
