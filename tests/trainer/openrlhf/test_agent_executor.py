"""The OpenRLHF agent executor and the engine adapter, against a scripted stand-in for
OpenRLHF's vLLM actor (no GPU, no vLLM)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from runtime.engines.base import ChatRequest, Message, Sampling
from tests.trainer.openrlhf.doubles import CharTokenizerDouble, ScriptedLLMEngineDouble
from trainer.config import TrainConfig
from trainer.openrlhf.engine_adapter import OpenRLHFEngine
from trainer.openrlhf.labels import item_from_label, item_label
from trainer.tasks.registry import get_task

GOOD = """mas d {
  input question: text
  output answer: number
  agent solver -> number { role "Solve." }
  flow { answer = solver(question) }
}"""


def identity(request: ChatRequest) -> ChatRequest:
    """Params factory for tests: hand the request itself to the engine double."""
    return request


def config(executions: int = 3) -> TrainConfig:
    return TrainConfig.model_validate({
        "steps": 1, "output_dir": "out", "eval_interval": 0,
        "tasks": {"train": [{"name": "arithmetic"}]},
        "rollout": {"questions_per_step": 1, "designs_per_question": 2,
                    "executions_per_design": executions},
        "sampling": {"decoding": "grammar"}})  # the scripted designer writes whole specs


def run_execute(reply: Any, executions: int = 3) -> tuple[dict[str, Any], Any, Any]:
    agent_func = pytest.importorskip("trainer.openrlhf.agent_func",
                                     reason="needs openrlhf (pip install --no-deps openrlhf)")
    task = get_task("arithmetic")
    (item,) = task.load("test", limit=1, seed=3)
    label = item_label("arithmetic", item)
    engine = ScriptedLLMEngineDouble(lambda request: reply(request, item))
    executor = agent_func.AgentExecutor(config(executions), make_params=identity)
    result = asyncio.run(executor.execute(prompt=item.inputs["question"], label=label,
                                          sampling_params=None, max_length=4096,
                                          hf_tokenizer=CharTokenizerDouble(),
                                          llm_engine=engine))
    return result, engine, item


def solve_or_design(request: ChatRequest, item: Any) -> str:
    if request.grammar is not None:  # the designer: constrained by our grammar
        return GOOD
    return f"ANSWER: {item.reference}"


def test_execute_runs_one_unit_and_returns_openrlhf_sample_fields() -> None:
    result, engine, item = run_execute(solve_or_design)
    tokens = result["observation_tokens"]
    ((start, end),) = result["action_ranges"]
    decoded = "".join(chr(t) for t in tokens)
    assert decoded.endswith(GOOD) and decoded[start:end] == GOOD
    assert len(result["rollout_log_probs"]) == len(tokens)
    assert result["rollout_log_probs"][:start] == [0.0] * start
    assert result["rollout_log_probs"][start:] == [-0.25] * len(GOOD)
    assert result["reward"] == result["scores"] == 1.0  # 3 executions, all correct
    unit = result["masdsl_unit"]
    assert unit.design.compile_ok and unit.design_return == 1.0
    assert [e.reward for e in unit.executions] == [1.0, 1.0, 1.0]
    assert [len(turns) for turns in unit.turns] == [1, 1, 1]
    turn = unit.turns[0][0]
    assert "".join(chr(t) for t in turn.completion_token_ids) == f"ANSWER: {item.reference}"
    assert item.inputs["question"] in "".join(chr(t) for t in turn.prompt_token_ids)
    assert all(t.reaches_output for e in unit.executions for t in e.turns)
    # one designer request (with the grammar) and three executor requests, all via the engine
    grammars = [params.grammar is not None for _, params in engine.calls]
    assert grammars.count(True) == 1 and grammars.count(False) == 3
    assert result["extra_logs"]["masdsl/compile_ok"] == 1.0


def test_execute_penalises_a_design_that_does_not_compile() -> None:
    def broken(request: ChatRequest, item: Any) -> str:
        return GOOD.replace("solver(question)", "solver(nothing)")

    result, engine, _ = run_execute(broken)
    unit = result["masdsl_unit"]
    assert not unit.design.compile_ok and unit.executions == () and unit.turns == ()
    assert result["reward"] == -1.0  # the default compile penalty
    assert any(d.severity == "error" for d in unit.design.diagnostics)
    assert len(engine.calls) == 1  # no executions were run


def test_the_reward_is_the_mean_verifier_reward_of_the_executions() -> None:
    def wrong(request: ChatRequest, item: Any) -> str:
        return GOOD if request.grammar is not None else "ANSWER: 123456789"

    result, _, _ = run_execute(wrong, executions=2)
    rewards = [e.reward for e in result["masdsl_unit"].executions]
    assert len(rewards) == 2 and max(rewards) < 1.0
    assert result["reward"] == pytest.approx(sum(rewards) / 2)


def test_labels_round_trip_and_reject_foreign_labels() -> None:
    (item,) = get_task("arithmetic").load("test", limit=1, seed=1)
    assert item_from_label(item_label("arithmetic", item)) == ("arithmetic", item)
    with pytest.raises(ValueError, match="not a masdsl prompt label"):
        item_from_label("42")


def request(text: str = "hi", max_tokens: int = 50, grammar: str | None = None) -> ChatRequest:
    return ChatRequest(messages=(Message("user", text),),
                       sampling=Sampling(max_tokens=max_tokens), grammar=grammar)


def test_adapter_templates_caps_max_tokens_and_converts_outputs() -> None:
    engine = ScriptedLLMEngineDouble(lambda r: "x" * 100)
    adapter = OpenRLHFEngine(engine, CharTokenizerDouble(), max_length=30,
                             make_params=identity)
    (completion,) = asyncio.run(adapter.generate([request("hi", max_tokens=50)]))
    prompt = "<user>hi\n<assistant>"
    assert completion.prompt_text == prompt
    assert completion.prompt_token_ids == tuple(ord(c) for c in prompt)
    room = 30 - len(prompt)
    assert engine.calls[0][1].sampling.max_tokens == room  # capped to fit max_len
    assert completion.text == "x" * room and completion.finish_reason == "length"
    assert completion.logprobs == (-0.25,) * room
    assert adapter.capabilities.grammar and adapter.capabilities.max_context == 30


def test_adapter_turns_engine_problems_into_error_completions() -> None:
    too_long = OpenRLHFEngine(ScriptedLLMEngineDouble(lambda r: "x"), CharTokenizerDouble(),
                              max_length=5, make_params=identity)
    (completion,) = asyncio.run(too_long.generate([request("a long prompt")]))
    assert completion.finish_reason == "error" and "context holds 5" in (completion.error or "")

    class Rejecting(ScriptedLLMEngineDouble):
        async def generate(self, prompt_token_ids: list[int], params: Any,
                           multi_modal_data: Any = None) -> Any:
            raise ValueError("grammar rejected")

    rejecting = OpenRLHFEngine(Rejecting(lambda r: ""), CharTokenizerDouble(), max_length=99,
                               make_params=identity)
    (completion,) = asyncio.run(rejecting.generate([request(grammar="start: 'a'")]))
    assert completion.finish_reason == "error"
    assert completion.error == "ValueError: grammar rejected"


class VLLMClientErrorDouble(Exception):
    """vLLM 0.29's `VLLMClientError`: an `Exception`, no longer a `ValueError`."""


class VLLMValidationErrorDouble(VLLMClientErrorDouble):
    pass


class EngineGenerateErrorDouble(Exception):
    pass


class EngineDeadErrorDouble(Exception):
    pass


@pytest.fixture
def vllm_exceptions(monkeypatch: pytest.MonkeyPatch) -> None:
    """`vllm.exceptions` and `vllm.v1.engine.exceptions` as vLLM 0.29 lays them out (vLLM
    itself needs CUDA); the adapter imports them by name."""
    import sys
    from types import ModuleType

    exceptions = ModuleType("vllm.exceptions")
    exceptions.VLLMClientError = VLLMClientErrorDouble  # type: ignore[attr-defined]
    exceptions.VLLMValidationError = VLLMValidationErrorDouble  # type: ignore[attr-defined]
    engine = ModuleType("vllm.v1.engine.exceptions")
    engine.EngineGenerateError = EngineGenerateErrorDouble  # type: ignore[attr-defined]
    engine.EngineDeadError = EngineDeadErrorDouble  # type: ignore[attr-defined]
    for name in ("vllm", "vllm.v1", "vllm.v1.engine"):
        monkeypatch.setitem(sys.modules, name, ModuleType(name))
    monkeypatch.setitem(sys.modules, "vllm.exceptions", exceptions)
    monkeypatch.setitem(sys.modules, "vllm.v1.engine.exceptions", engine)


class Raising(ScriptedLLMEngineDouble):
    def __init__(self, error: Exception, designer_only: bool = False) -> None:
        super().__init__(lambda request: "ANSWER: 1")
        self.error = error
        self.designer_only = designer_only

    async def generate(self, prompt_token_ids: list[int], params: Any,
                       multi_modal_data: Any = None) -> Any:
        if not self.designer_only or params.grammar is not None:
            raise self.error
        return await super().generate(prompt_token_ids, params, multi_modal_data)


def test_vllm_request_errors_fail_the_request_and_a_dead_engine_stops(
        vllm_exceptions: None) -> None:
    from runtime.engines.base import EngineError
    from trainer.openrlhf.engine_adapter import request_errors

    assert not issubclass(VLLMValidationErrorDouble, ValueError)
    assert request_errors() == (ValueError, VLLMClientErrorDouble, EngineGenerateErrorDouble)
    for error in (VLLMValidationErrorDouble("prompt too long (parameter=max_tokens)"),
                  EngineGenerateErrorDouble("request failed")):
        adapter = OpenRLHFEngine(Raising(error), CharTokenizerDouble(), max_length=99,
                                 make_params=identity)
        (completion,) = asyncio.run(adapter.generate([request()]))
        assert completion.finish_reason == "error"
        assert completion.error == f"{type(error).__name__}: {error}"
    dead = OpenRLHFEngine(Raising(EngineDeadErrorDouble("engine core died")),
                          CharTokenizerDouble(), max_length=99, make_params=identity)
    with pytest.raises(EngineError, match="engine core died"):
        asyncio.run(dead.generate([request()]))


def test_a_refused_design_request_fails_that_design_not_the_job(vllm_exceptions: None) -> None:
    agent_func = pytest.importorskip("trainer.openrlhf.agent_func")
    (item,) = get_task("arithmetic").load("test", limit=1, seed=3)
    engine = Raising(VLLMValidationErrorDouble("grammar rejected"), designer_only=True)
    executor = agent_func.AgentExecutor(config(), make_params=identity)
    result = asyncio.run(executor.execute(prompt="q", label=item_label("arithmetic", item),
                                          sampling_params=None, max_length=4096,
                                          hf_tokenizer=CharTokenizerDouble(),
                                          llm_engine=engine))
    unit = result["masdsl_unit"]
    assert not unit.design.compile_ok and result["reward"] == -1.0  # the compile penalty
    assert result["action_ranges"] == [] and unit.executions == ()


def test_vllms_error_finish_reason_is_an_error() -> None:
    from types import SimpleNamespace

    from runtime.engines.base import ChatRequest, Message
    from trainer.openrlhf.engine_adapter import completion_from_output

    output = SimpleNamespace(outputs=[SimpleNamespace(
        token_ids=[65], text="A", finish_reason="error", logprobs=[{65: SimpleNamespace(
            logprob=-0.5)}])])
    request = ChatRequest((Message("user", "q"),))
    tokenizer = CharTokenizerDouble()
    completion = completion_from_output(output, request, "p", (1,), tokenizer)
    assert completion.finish_reason == "error" and completion.token_ids == ()
    assert completion.error == "the engine aborted the request"
    output.outputs[0].finish_reason = "stop"
    completion = completion_from_output(output, request, "p", (1,), tokenizer)
    assert completion.finish_reason == "stop" and completion.text == "A"


def test_openrlhf_can_load_the_agent_file_by_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenRLHF loads `--train.agent_func_path` with `spec_from_file_location` and calls
    `AgentExecutor()` without arguments; the configs come from the runtime env."""
    import importlib.util

    from trainer.openrlhf.command import JobPaths
    from trainer.openrlhf.config import SETTINGS_VARIABLE, OpenRLHFConfig, settings_json
    from trainer.openrlhf.launcher import job_paths

    base = pytest.importorskip("openrlhf.utils.agent").AgentExecutorBase
    paths: JobPaths = job_paths(config())
    spec = importlib.util.spec_from_file_location("agent_module", paths.agent_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert issubclass(module.AgentExecutor, base)
    monkeypatch.delenv(SETTINGS_VARIABLE, raising=False)
    with pytest.raises(RuntimeError, match="masc train CONFIG --backend openrlhf"):
        module.AgentExecutor()
    monkeypatch.setenv(SETTINGS_VARIABLE, settings_json(config(5), OpenRLHFConfig(model="m")))
    assert module.AgentExecutor().runner.train.rollout.executions_per_design == 5
