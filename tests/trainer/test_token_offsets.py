"""Per-token character offsets on the real SmolLM2 tokenizer and a real non-ASCII spec."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masdsl.parser import parse
from runtime.engines.prompt import hf_detokenizer
from trainer.credit import (
    DesignSample,
    NodeSpan,
    char_spans_to_token_ranges,
    designer_token_advantages,
)
from trainer.tokens import token_char_offsets

SPEC = Path(__file__).parent / "fixtures" / "unicode_roles.mas"


class ScriptedDecoder:
    """Test double: decodes ids through a fixed table of byte strings, like byte-level BPE."""

    def __init__(self, table: dict[int, bytes]) -> None:
        self.table = table

    def decode(self, token_ids: Sequence[int], **kwargs: Any) -> str:
        data = b"".join(self.table[i] for i in token_ids)
        return data.decode("utf-8", errors="replace")


def test_split_multibyte_character_goes_to_the_completing_token() -> None:
    # "a€b": € is E2 82 AC, split over tokens 1 and 2
    decoder = ScriptedDecoder({0: b"a", 1: b"\xe2\x82", 2: b"\xacb"})
    assert token_char_offsets(decoder.decode, [0, 1, 2]) == ("a€b", [(0, 1), (1, 1), (1, 3)])


def test_real_replacement_character_is_kept() -> None:
    decoder = ScriptedDecoder({0: "x\ufffd".encode(), 1: b"y"})
    assert token_char_offsets(decoder.decode, [0, 1]) == ("x\ufffdy", [(0, 2), (2, 3)])


def test_real_replacement_character_before_a_split_character() -> None:
    # "\ufffd" then é (C3 A9) split over tokens 1 and 2
    decoder = ScriptedDecoder({0: "\ufffd".encode(), 1: b"\xc3", 2: b"\xa9"})
    assert token_char_offsets(decoder.decode, [0, 1, 2]) == ("\ufffdé", [(0, 1), (1, 1), (1, 2)])


def test_empty_input() -> None:
    assert token_char_offsets(ScriptedDecoder({}).decode, []) == ("", [])


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    transformers = pytest.importorskip("transformers")
    from trainer.embedded import embedded_gguf_path

    try:
        path = embedded_gguf_path()
    except FileNotFoundError as error:
        pytest.skip(str(error))
    return transformers.AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


@pytest.mark.slow
def test_smollm2_offsets_by_hand(tokenizer: Any) -> None:
    ids = tokenizer("Größe: “naïve” 数学", add_special_tokens=False)["input_ids"]
    text, offsets = token_char_offsets(hf_detokenizer(tokenizer), ids)
    assert text == "Größe: “naïve” 数学"
    # 学 (E5 AD A6) is split over two tokens: the first gets an empty range at its start
    assert offsets == [(0, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 8), (8, 10), (10, 13),
                       (13, 14), (14, 15), (15, 16), (16, 16), (16, 17)]


@pytest.mark.slow
def test_smollm2_offsets_on_a_real_spec(tokenizer: Any) -> None:
    spec = SPEC.read_text(encoding="utf-8")
    ids = tokenizer(spec, add_special_tokens=False)["input_ids"]
    text, offsets = token_char_offsets(hf_detokenizer(tokenizer), ids)
    assert text == spec
    assert offsets[0][0] == 0 and offsets[-1][1] == len(spec)
    assert all(a[1] == b[0] and a[0] <= a[1] for a, b in itertools.pairwise(offsets))
    # every token's own bytes, decoded alone, are the text of its range (or a fragment of a
    # multi-byte character whose range is shared with the next tokens)
    for token_id, (start, end) in zip(ids, offsets, strict=True):
        alone = tokenizer.decode([token_id], clean_up_tokenization_spaces=False)
        if "\ufffd" not in alone:
            assert alone == spec[start:end]
    # the tokens mapped to each agent's span decode to text containing the whole agent
    program = parse(spec)
    agents = program.agents
    ranges = char_spans_to_token_ranges([(a.span.start, a.span.end) for a in agents], offsets)
    for agent, (first, last) in zip(agents, ranges, strict=True):
        assert spec[agent.span.start:agent.span.end] in tokenizer.decode(ids[first:last])
    # per-node credit: the unreachable critic's tokens get 0, the header keeps A
    critic = agents[1]
    design = DesignSample("q", "d", spec, tuple(offsets), compile_ok=True,
                          nodes=(NodeSpan("critic", critic.span.start, critic.span.end,
                                          reaches_output=False),))
    advantages = designer_token_advantages(design, 0.5)
    first, last = ranges[1]
    assert advantages[first:last] == [0.0] * (last - first)
    assert advantages[:first] == [0.5] * first and advantages[last:] == [0.5] * (len(ids) - last)


TRICKY = st.sampled_from(["a", " ", "é", "€", "😀", "\ufffd"])


@given(st.text(alphabet=st.one_of(TRICKY, st.characters()), min_size=1, max_size=30),
       st.data())
@settings(max_examples=200, deadline=None)
def test_any_byte_split_gives_each_character_to_the_token_with_its_last_byte(
        text: str, data: st.DataObject) -> None:
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        return  # lone surrogates are not text a tokenizer produces
    cuts = sorted(set(data.draw(st.lists(st.integers(1, len(encoded) - 1), max_size=12))
                      if len(encoded) > 1 else []))
    pieces = [encoded[a:b] for a, b in zip([0, *cuts], [*cuts, len(encoded)], strict=True)]
    decoder = ScriptedDecoder(dict(enumerate(pieces)))
    decoded, offsets = token_char_offsets(decoder.decode, list(range(len(pieces))))
    assert decoded == text
    # expected: character c belongs to the piece holding its last byte
    ends = list(itertools.accumulate(len(piece) for piece in pieces))
    char_end_bytes = list(itertools.accumulate(len(ch.encode("utf-8")) for ch in text))
    expected_owner = [next(i for i, end in enumerate(ends) if end >= last)
                      for last in char_end_bytes]
    owner = [next(i for i, (s, e) in enumerate(offsets) if s <= c < e)
             for c in range(len(text))]
    assert owner == expected_owner
