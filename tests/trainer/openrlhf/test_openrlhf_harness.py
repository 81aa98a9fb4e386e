"""One training step through OpenRLHF 0.11.2's real trainer-side code, on a CPU.

Our agent executor answers for two questions (a scripted stand-in for the vLLM actor); from
there everything is OpenRLHF's own code, built from OpenRLHF's own arguments (our command,
parsed and validated by its `train_ppo_ray` start-up block), with our two classes installed:
`SamplesGenerator.generate_samples` and `_process_response_into_experience`,
`RemoteExperienceMaker.make_experience_batch`, `RayActorGroup.async_run_method_batch` (the
split over two actor ranks), `BaseModelActor.execute_batch`, `NaiveReplayBuffer`, the
training `DataLoader` and `iter_grad_accum_global_norm` of `ActorPPOTrainer.ppo_train`, and
`PolicyLoss`. Stood in for, because they need GPUs: the vLLM dispatch
(`SamplesGenerator._generate_vllm`), the policy's forward passes
(`RemoteExperienceMaker.make_experience`), and flash-attn/vLLM at import time.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from runtime.engines.base import ChatRequest
from tests.trainer.openrlhf.doubles import CharTokenizerDouble, ScriptedLLMEngineDouble
from tests.trainer.openrlhf.openrlhf_cpu import missing_for_harness, openrlhf_modules
from tests.trainer.openrlhf.openrlhf_parser import cli_source, startup_args
from tests.trainer.openrlhf.test_agent_executor import GOOD, identity
from trainer.openrlhf import install
from trainer.openrlhf.credit_layout import DESIGNER_KEY, PADDING_KEY, step_samples
from trainer.openrlhf.labels import item_label
from trainer.openrlhf.launcher import prepare
from trainer.schedule import BOTH
from trainer.tasks.registry import get_task

BROKEN = GOOD.replace("solver(question)", "solver(nothing)")

CONFIG = """
steps = 1
output_dir = "{out}"
eval_interval = 0
[[tasks.train]]
name = "arithmetic"
[rollout]
questions_per_step = 2
designs_per_question = 2
executions_per_design = 3
[schedule]
kind = "coupled"
[sampling]
decoding = "grammar"
[openrlhf]
model = "{model}"
nodes = 1
gpus_per_node = 2
vllm_engines = 1
colocate = false
micro_batch_size = 2
train_batch_size = 8
"""
"""Two actor ranks, micro-batches of 2, train batches of 8 rows (DeepSpeed accumulates 2
micro-batches per rank). Each question gives 2 design rows and 3 executor turns of its good
design: 10 rows, padded to 16."""


@pytest.fixture(scope="module")
def openrlhf() -> Iterator[SimpleNamespace]:
    if reason := missing_for_harness():
        pytest.skip(reason)
    with openrlhf_modules():
        from openrlhf.models import PolicyLoss
        from openrlhf.trainer.ppo_utils.experience_maker import RemoteExperienceMaker
        from openrlhf.trainer.ppo_utils.kl_controller import FixedKLController
        from openrlhf.trainer.ppo_utils.replay_buffer import NaiveReplayBuffer
        from openrlhf.trainer.ppo_utils.samples_generator import SamplesGenerator
        from openrlhf.trainer.ray import launcher
        from openrlhf.utils.loss_utils import iter_grad_accum_global_norm

        yield SimpleNamespace(
            PolicyLoss=PolicyLoss, RemoteExperienceMaker=RemoteExperienceMaker,
            FixedKLController=FixedKLController, NaiveReplayBuffer=NaiveReplayBuffer,
            SamplesGenerator=SamplesGenerator, launcher=launcher,
            iter_grad_accum_global_norm=iter_grad_accum_global_norm)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Configs, OpenRLHF's own arguments for our command, and two questions' responses."""
    root = tmp_path_factory.mktemp("harness")
    (root / "model").mkdir()
    (root / "model" / "config.json").write_text("{}")
    path = root / "train.toml"
    path.write_text(CONFIG.format(out=root / "out", model=root / "model"))
    train, gpu, command = prepare(path)
    source = cli_source()
    assert source is not None
    args = startup_args(source, list(command.train_arguments))
    agent_func = pytest.importorskip("trainer.openrlhf.agent_func")
    items = get_task("arithmetic").load("test", limit=2, seed=3)
    designs = itertools.cycle([GOOD, BROKEN])
    answers = iter(itertools.cycle([True, False, True]))

    def reply(request: ChatRequest) -> str:
        if request.grammar is not None:
            return next(designs)
        item = next(item for item in items if item.inputs["question"] in str(request.messages))
        return f"ANSWER: {item.reference if next(answers) else -1}"

    executor = agent_func.AgentExecutor(train, make_params=identity)
    engine = ScriptedLLMEngineDouble(reply)

    async def run() -> list[dict[str, Any]]:
        return [await executor.execute(prompt=item.inputs["question"],
                                       label=item_label("arithmetic", item),
                                       sampling_params=None, max_length=gpu.max_len,
                                       hf_tokenizer=CharTokenizerDouble(), llm_engine=engine)
                for item in items for _ in range(train.rollout.designs_per_question)]

    return SimpleNamespace(train=train, gpu=gpu, args=args, responses=asyncio.run(run()))


def generator(openrlhf: SimpleNamespace, setup: SimpleNamespace) -> Any:
    class SamplesGeneratorWithoutVLLM(openrlhf.SamplesGenerator):  # type: ignore[misc,name-defined]
        """Only the dispatch to vLLM engines (GPUs) is stood in for: it returns our agent's
        responses through OpenRLHF's own `_process_response_into_experience`."""

        def _generate_vllm(self, dataloader_iter: Any, num_prompts: int,
                           dynamic_filtering: bool, **kwargs: Any) -> tuple[list[Any], int, bool]:
            prompts = list(itertools.islice(dataloader_iter, num_prompts))
            return ([self._process_response_into_experience(response, **kwargs)
                     for response in setup.responses], len(prompts), True)

    ours = install.generator_class(SamplesGeneratorWithoutVLLM, setup.train, setup.gpu)
    return ours(strategy=SimpleNamespace(args=setup.args), prompts_dataloader=[[], []],
                eval_dataloader=None, tokenizer=SimpleNamespace(pad_token_id=0),
                vllm_engines=[])


def experience_maker(openrlhf: SimpleNamespace, setup: SimpleNamespace) -> Any:
    class WithoutModelForwards(install.experience_maker_class(openrlhf.RemoteExperienceMaker)):  # type: ignore[misc]
        """The policy's forward pass (GPUs) is stood in for: on-policy, the policy's
        logprobs are the rollout's, and there is no reference model (KL 0)."""

        def make_experience(self, samples_list: list[Any]) -> list[Any]:
            import torch

            for samples in samples_list:
                samples.action_log_probs = samples.rollout_log_probs.clone()
                samples.kl = torch.zeros_like(samples.action_log_probs)
                samples.info["kl"] = torch.zeros(len(samples.sequences))
            return samples_list

    return WithoutModelForwards(None, None, None, None, openrlhf.FixedKLController(0.0),
                                SimpleNamespace(args=setup.args),
                                SimpleNamespace(pad_token_id=0))


def test_our_design_rows_are_laid_out_as_openrlhfs_own(openrlhf: SimpleNamespace,
                                                        setup: SimpleNamespace) -> None:
    stock = openrlhf.SamplesGenerator(SimpleNamespace(args=setup.args), None, None, None, [])
    units = [response["masdsl_unit"] for response in setup.responses]
    designs = [row for row in step_samples(units, setup.train.credit, BOTH)
               if row.sample.role.value == "designer"]
    from trainer.openrlhf.credit_layout import build_experience

    for response, design in zip(setup.responses, designs, strict=True):
        theirs = stock._process_response_into_experience(response, max_len=setup.gpu.max_len)
        ours = build_experience(design, setup.gpu.max_len)
        assert ours.sequences.tolist() == theirs.sequences.tolist()
        assert ours.action_mask.tolist() == theirs.action_mask.tolist()
        assert ours.rollout_log_probs.tolist() == theirs.rollout_log_probs.tolist()
        assert ours.rewards.tolist() == theirs.rewards.tolist()


def step(openrlhf: SimpleNamespace, setup: SimpleNamespace) -> list[Any]:
    """One step's experiences after OpenRLHF's samples generator and experience maker."""
    rows, _, consumed, exhausted = generator(openrlhf, setup).generate_samples(
        max_len=setup.gpu.max_len)
    assert consumed == 2 and exhausted  # one generate call holds the whole step
    return list(experience_maker(openrlhf, setup).make_experience_batch(rows))


def test_a_step_is_whole_train_batches_of_our_advantages(openrlhf: SimpleNamespace,
                                                         setup: SimpleNamespace) -> None:
    experiences = step(openrlhf, setup)
    # split by OpenRLHF into rollout micro-batches of 2: 10 rows + 6 padding rows
    assert [len(e.sequences) for e in experiences] == [2] * 8
    designer = [flag for e in experiences for flag in e.info[DESIGNER_KEY].tolist()]
    padding = [flag for e in experiences for flag in e.info[PADDING_KEY].tolist()]
    assert designer[:10] == [1.0, 1.0, 0.0, 0.0, 0.0] * 2
    assert padding == [0.0] * 10 + [1.0] * 6
    for experience in experiences:
        mask = experience.action_mask
        assert experience.advantages.shape == mask.shape
        assert (experience.advantages * (1 - mask)).abs().sum().item() == 0
        assert experience.returns.tolist() == experience.advantages.tolist()
    advantages = [e.advantages[row][e.action_mask[row].bool()]
                  for e in experiences for row in range(len(e.sequences))]
    # design returns: good 2/3 (two of three executions right), broken -1 (penalty)
    assert advantages[0].tolist() == pytest.approx([1.0] * len(advantages[0]), abs=1e-4)
    assert min(advantages[1].tolist()) == pytest.approx(-1.0, abs=1e-4)
    assert all(len(a) == 0 for a in advantages[10:])  # padding trains nothing


class ActorHandleDouble:
    """A Ray actor handle: `.execute_batch.remote(...)` runs OpenRLHF's real
    `BaseModelActor.execute_batch` on a rank whose `append` is `PolicyModelActor.append`."""

    def __init__(self, openrlhf: SimpleNamespace, micro: int) -> None:
        rank = self

        class Rank(openrlhf.launcher.BaseModelActor):  # type: ignore[misc,name-defined]
            def append(self, experience: Any) -> None:
                self.replay_buffer.append(experience)

        self.rank = Rank.__new__(Rank)  # no process group: nothing distributed is called
        self.rank.strategy = SimpleNamespace(is_rank_0=lambda: False)
        self.rank.replay_buffer = openrlhf.NaiveReplayBuffer(micro, 0, True, False, False)

        class Method:
            @staticmethod
            def remote(*args: Any) -> Any:
                return rank.rank.execute_batch(*args)

        self.execute_batch = Method()


def micro_batches_per_rank(openrlhf: SimpleNamespace, setup: SimpleNamespace,
                           experiences: list[Any],
                           monkeypatch: pytest.MonkeyPatch) -> list[list[Any]]:
    """What each actor rank trains on: OpenRLHF's split of the step over the ranks, each
    rank's replay buffer, and the `DataLoader` of `ActorPPOTrainer.ppo_train`."""
    import torch
    from torch.utils.data import DataLoader

    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)  # the buffer's target device
    monkeypatch.setattr(openrlhf.launcher.ray, "put", lambda value: value)  # no object store
    args = setup.args
    group = openrlhf.launcher.RayActorGroup.__new__(openrlhf.launcher.RayActorGroup)
    group._actor_handlers = [ActorHandleDouble(openrlhf, args.train.micro_batch_size)
                             for _ in range(args.actor.num_gpus_per_node)]
    group.duplicate_actors = 1
    group.async_run_method_batch(method_name="append", experience=experiences)
    batches = []
    for handle in group._actor_handlers:
        buffer = handle.rank.replay_buffer
        loader = DataLoader(buffer, batch_size=buffer.sample_batch_size, shuffle=True,
                            drop_last=True, collate_fn=buffer.collate_fn)
        batches.append(list(loader))
    return batches


def gradient_accumulation(args: Any) -> int:
    """`DeepspeedStrategy.accumulated_gradient` (no ring attention, no DeepSpeed TP)."""
    gas: int = (args.train.batch_size // args.train.micro_batch_size
                // (args.actor.num_nodes * args.actor.num_gpus_per_node))
    return gas


def windows(openrlhf: SimpleNamespace, setup: SimpleNamespace,
            ranks: list[list[Any]]) -> list[list[int]]:
    """Micro-batches per optimiser step on each rank, as `ppo_train` groups them
    (`iter_grad_accum_global_norm`: one loss normaliser per step)."""
    gas = gradient_accumulation(setup.args)
    strategy = SimpleNamespace(accumulated_gradient=gas)
    found = []
    for batches in ranks:
        sizes: dict[int, int] = {}
        for _, info in openrlhf.iter_grad_accum_global_norm(iter(batches), strategy, gas,
                                                            lambda e: e.action_mask):
            sizes[id(info)] = sizes.get(id(info), 0) + 1
        found.append(list(sizes.values()))
    return found


def test_every_rank_trains_the_same_whole_steps_and_drops_nothing(
        openrlhf: SimpleNamespace, setup: SimpleNamespace,
        monkeypatch: pytest.MonkeyPatch) -> None:
    experiences = step(openrlhf, setup)
    ranks = micro_batches_per_rank(openrlhf, setup, experiences, monkeypatch)
    assert [len(batches) for batches in ranks] == [4, 4]
    assert sum(len(b.sequences) for batches in ranks for b in batches) == 16  # none dropped
    assert windows(openrlhf, setup, ranks) == [[2, 2], [2, 2]]  # two whole optimiser steps


def test_without_padding_the_ranks_would_run_different_numbers_of_micro_batches(
        openrlhf: SimpleNamespace, setup: SimpleNamespace,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The failure padding prevents: 10 rows split over 2 ranks as OpenRLHF splits them give
    one rank 3 micro-batches and the other 2 (its collectives would wait forever), and the
    first rank's second optimiser step is left half full, to be finished by the next step."""
    rows, *_ = generator(openrlhf, setup).generate_samples(max_len=setup.gpu.max_len)
    real = [row for row in rows if row.info[PADDING_KEY].item() == 0.0]
    experiences = experience_maker(openrlhf, setup).make_experience_batch(real)
    ranks = micro_batches_per_rank(openrlhf, setup, list(experiences), monkeypatch)
    assert [len(batches) for batches in ranks] == [3, 2]
    assert windows(openrlhf, setup, ranks) == [[2, 1], [2]]


def test_openrlhfs_policy_loss_trains_exactly_our_advantages(
        openrlhf: SimpleNamespace, setup: SimpleNamespace,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`PolicyLoss` built as `ActorPPOTrainer` builds it from the arguments, normalised per
    optimiser step as `ppo_train` does, on one rank holding the whole step: at the rollout
    policy (ratio 1) the gradient on each token's logprob is -advantage / (the step's tokens
    / accumulation), zero on prompts, on padding rows and wherever our credit gave nothing."""
    import torch
    from torch.utils.data import DataLoader

    args = setup.args
    loss_fn = openrlhf.PolicyLoss(
        clip_eps_low=args.actor.eps_clip_low_high[0],
        clip_eps_high=args.actor.eps_clip_low_high[1], dual_clip=args.actor.dual_clip,
        token_level_loss=args.actor.loss_agg_mode == "token-mean",
        policy_loss_type=args.actor.policy_loss_type,
        is_correction_level=args.algo.advantage.is_correction_level,
        is_correction_mode=args.algo.advantage.is_correction_mode,
        is_correction_gating=args.algo.advantage.is_correction_gating,
        is_correction_threshold=args.algo.advantage.is_correction_threshold)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    buffer = openrlhf.NaiveReplayBuffer(args.train.micro_batch_size, 0, True, False, False)
    for experience in step(openrlhf, setup):
        buffer.append(experience)
    loader = DataLoader(buffer, batch_size=buffer.sample_batch_size, shuffle=False,
                        drop_last=True, collate_fn=buffer.collate_fn)
    gas = args.train.batch_size // args.train.micro_batch_size  # one rank: 4 per step
    strategy = SimpleNamespace(accumulated_gradient=gas)
    trained = padded = 0
    for batch, info in openrlhf.iter_grad_accum_global_norm(iter(loader), strategy, gas,
                                                            lambda e: e.action_mask):
        mask = batch.action_mask.float()
        log_probs = batch.action_log_probs.clone().requires_grad_(True)
        loss, *_ = loss_fn(log_probs, batch.action_log_probs, batch.advantages,
                           action_mask=batch.action_mask,
                           rollout_log_probs=batch.rollout_log_probs, **info)
        loss.backward()
        assert log_probs.grad is not None and torch.isfinite(loss)
        expected = -batch.advantages * mask / info["batch_num_tokens"]
        assert torch.allclose(log_probs.grad, expected, atol=1e-6)
        is_padding = torch.tensor(batch.info[PADDING_KEY]).bool()  # collated as a list
        assert log_probs.grad[is_padding].abs().sum().item() == 0
        trained += int((log_probs.grad != 0).any().item())
        padded += int(is_padding.all().item())
    assert trained >= 4 and padded >= 2  # whole micro-batches of padding: zero, not NaN


def test_the_scalar_baseline_runs_openrlhfs_own_group_norm_on_our_designs(
        openrlhf: SimpleNamespace, setup: SimpleNamespace, tmp_path: Path) -> None:
    """`credit = "scalar"`: no masdsl class; OpenRLHF's stock generator and experience maker
    give every design token its design's return, normalised within the question."""
    import torch

    path = tmp_path / "scalar.toml"
    path.write_text(CONFIG.format(out=tmp_path / "out", model=tmp_path).replace(
        "train_batch_size = 8", 'train_batch_size = 4\ncredit = "scalar"'))
    _, _, command = prepare(path)
    source = cli_source()
    assert source is not None
    args = startup_args(source, list(command.train_arguments))
    assert args.algo.advantage.estimator == "group_norm"
    stock = openrlhf.SamplesGenerator(SimpleNamespace(args=args), None, None, None, [])
    rows = [stock._process_response_into_experience(response, max_len=setup.gpu.max_len)
            for response in setup.responses]

    class WithoutModelForwards(openrlhf.RemoteExperienceMaker):  # type: ignore[misc,name-defined]
        def make_experience(self, samples_list: list[Any]) -> list[Any]:
            for samples in samples_list:
                samples.action_log_probs = samples.rollout_log_probs.clone()
                samples.kl = torch.zeros_like(samples.action_log_probs)
            return samples_list

    maker = WithoutModelForwards(None, None, None, None, openrlhf.FixedKLController(0.0),
                                 SimpleNamespace(args=args), SimpleNamespace(pad_token_id=0))
    experiences = maker.make_experience_batch(rows)
    returns = [response["reward"] for response in setup.responses]
    assert returns == pytest.approx([2 / 3, -1.0, 2 / 3, -1.0])
    for experience in experiences:
        for row in range(len(experience.sequences)):
            mask = experience.action_mask[row].bool()
            # group_norm over the question's 2 designs (sample std): +-0.7071 on each token
            values = experience.advantages[row][mask].unique().tolist()
            assert len(values) == 1 and abs(values[0]) == pytest.approx(2 ** -0.5, abs=1e-4)
