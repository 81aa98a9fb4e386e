"""The `label` of an OpenRLHF prompt: which task a question comes from, and the whole item.

Carrying the item (inputs, reference, verifier data) in the label lets a rollout worker
verify an answer without reloading the data set."""

from __future__ import annotations

import json

from trainer.tasks.base import Item


def item_label(task: str, item: Item) -> str:
    """The `label` of one prompt: the task name and the item, as JSON."""
    return json.dumps({"task": task, "item": {"id": item.id, "inputs": dict(item.inputs),
                                              "reference": item.reference,
                                              "data": dict(item.data)}}, sort_keys=True)


def item_from_label(label: str) -> tuple[str, Item]:
    """The inverse of `item_label`: the task name and the item. `ValueError` when the label
    was not written by `item_label`."""
    try:
        data = json.loads(label)
        item = data["item"]
        return data["task"], Item(id=item["id"], inputs=item["inputs"],
                                  reference=item["reference"], data=item["data"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"not a masdsl prompt label ({error}): {label[:80]!r}") from None
