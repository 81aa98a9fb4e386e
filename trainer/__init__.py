"""The RL trainer: teaches one model to design masdsl systems and to run them.

Pure core (no torch): `config` (TOML config), `credit` (designer/executor credit rules),
`assign` (one question's credit), `schedule` (stagewise co-evolution), `design_spans`
(compiler output -> spans), `tokens` (token character offsets), `samples`, `batch`.
Torch, imported lazily by callers: `loss` (GRPO surrogate), `policy` (models, LoRA,
optimiser, checkpoints), `update` (one optimiser step).
"""
