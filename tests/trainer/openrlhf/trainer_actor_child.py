"""Child processes for `test_trainer_actor`: the two sides of Ray shipping OpenRLHF's
`PPOTrainer` actor class to the worker that hosts it. Tests only.

    python -m tests.trainer.openrlhf.trainer_actor_child dump OUT
        the job driver: import `openrlhf.trainer.ppo_trainer` (no masdsl hook here) and
        pickle the actor class exactly as Ray's `export_actor_class` does;
    python -m tests.trainer.openrlhf.trainer_actor_child load BLOB ARGUMENTS_JSON [old]
        the trainer actor's worker: run our setup hook first when the job's settings
        variable is set (Ray's `worker_process_setup_hook`), unpickle the class as Ray's
        worker does, build the trainer with OpenRLHF's real `__init__` and print, as JSON,
        the classes of its samples generator and experience maker. With `old`, the hook is
        the former one, which replaced the two names in `openrlhf.trainer.ppo_trainer` only.

Stood in for: the tokenizer and the prompt data set (files), and the DeepSpeed strategy
(needs CUDA and a process group): its `args` are OpenRLHF's own, parsed from our command.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tests.trainer.openrlhf.openrlhf_cpu import install_doubles
from tests.trainer.openrlhf.openrlhf_parser import cli_source, startup_args


def _ray_pickle_dumps(value: Any) -> bytes:
    try:  # Ray >= 2.56 moved it
        from ray._common.serialization import pickle_dumps
    except ImportError:
        from ray._private.serialization import pickle_dumps  # type: ignore[no-redef]
    blob: bytes = pickle_dumps(value, "Could not serialize the actor class")
    return blob


def dump(out: Path) -> None:
    install_doubles()
    from openrlhf.trainer.ppo_trainer import PPOTrainer

    # `ActorClass._remote` exports `__ray_metadata__.modified_class` (the class Ray wraps
    # around the decorated one) with `pickle_dumps` (cloudpickle).
    out.write_bytes(_ray_pickle_dumps(PPOTrainer.__ray_metadata__.modified_class))


class TokenizerDouble:
    pad_token_id = 0


def former_hook() -> None:
    """The setup hook as it was: patch the names in `openrlhf.trainer.ppo_trainer`."""
    import os

    from trainer.openrlhf import install
    from trainer.openrlhf.config import SETTINGS_VARIABLE, settings_from_json

    train, gpu = settings_from_json(os.environ[SETTINGS_VARIABLE])

    def patch(module: Any) -> None:
        module.SamplesGenerator = install.generator_class(module.SamplesGenerator, train, gpu)
        module.RemoteExperienceMaker = install.experience_maker_class(
            module.RemoteExperienceMaker)

    install.install_patches({install.TRAINER_MODULE: patch})


def load(blob: Path, arguments: list[str], old: bool = False) -> None:
    install_doubles()
    from trainer.openrlhf.install import setup_worker, startup_line

    # what Ray runs first in every worker of the job (a no-op outside a masdsl job)
    former_hook() if old else setup_worker()
    import openrlhf.trainer.ppo_trainer as trainer_module
    import openrlhf.utils.utils as utils_module
    from ray import cloudpickle

    utils_module.get_tokenizer = lambda *args, **kwargs: TokenizerDouble()  # type: ignore[assignment]
    trainer_module.prepare_datasets = lambda strategy, tokenizer: ([], None, 0)  # type: ignore[assignment]
    actor_class = cloudpickle.loads(blob.read_bytes())  # as Ray's worker loads it
    source = cli_source()
    assert source is not None
    args = startup_args(source, arguments)
    args.logger.tensorboard_dir = None
    trainer = actor_class.__new__(actor_class)
    actor_class.__init__(trainer, args.actor.model_name_or_path, SimpleNamespace(args=args),
                         None, None, None, None, None, max_len=args.data.max_len)
    generator, maker = type(trainer.samples_generator), type(trainer.experience_maker)
    print(json.dumps({
        "generator": [generator.__name__, [base.__name__ for base in generator.__mro__]],
        "maker": [maker.__name__, [base.__name__ for base in maker.__mro__]],
        "line": startup_line(trainer)}))


def main(argv: list[str]) -> None:
    if argv[0] == "dump":
        dump(Path(argv[1]))
    else:
        load(Path(argv[1]), json.loads(argv[2]), old=argv[3:] == ["old"])


if __name__ == "__main__":
    main(sys.argv[1:])
