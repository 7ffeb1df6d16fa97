#!/bin/bash
# Measures h5batch over 1, 2 and 3 shards on this machine: wall time of the shards (all
# started at once by mpirun, launch included), of the merge into a virtual dataset, and of a
# --copy merge; interleaved rounds, so that a noisy machine affects every count alike.
#
#   bench/scaling.sh PIPELINE [ROUNDS]     (docs/SCALING.md's figures: bench/scaling.sh mlp.yaml 3)
#
# Workers per shard: the cores divided among the shards (at least 1), so every count uses the
# same cores. Writes its shards and merged files in ./scaling-out/ and prints one line per run.
set -euo pipefail
pipeline=${1:?usage: bench/scaling.sh PIPELINE [ROUNDS]}
rounds=${2:-3}
h5batch=${H5BATCH:-$(cd "$(dirname "$0")/.." && pwd)/.build/release/h5batch}
cores=$(nproc)
# Open MPI binds each rank to one core by default (two ranks or fewer): a rank running several
# workers would run them all on that core.
mpirun_flags=(--oversubscribe --bind-to none)
[ "$(id -u)" = 0 ] && mpirun_flags+=(--allow-run-as-root)
out=scaling-out
mkdir -p "$out"

seconds() { awk -v ns=$(( $(date +%s%N) - $1 )) 'BEGIN { printf "%.3f", ns / 1e9 }'; }

echo "round shards workers_per_shard shards_s merge_virtual_s merge_copy_s"
for ((round = 1; round <= rounds; round++)); do
    for shards in 1 2 3; do
        workers=$(( cores / shards > 0 ? cores / shards : 1 ))
        rm -f "$out"/run-shard-* "$out"/merged.h5 "$out"/copy.h5
        start=$(date +%s%N)
        mpirun "${mpirun_flags[@]}" -np "$shards" "$h5batch" run "$pipeline" --output "$out/run.h5" \
            --shard auto --workers "$workers" --progress off 2> "$out/shards.log" > /dev/null
        shard_time=$(seconds "$start")
        parts=()
        for ((index = 0; index < shards; index++)); do parts+=("$out/run-shard-$index-of-$shards.h5"); done
        start=$(date +%s%N)
        "$h5batch" merge --output "$out/merged.h5" "${parts[@]}" > /dev/null
        merge_time=$(seconds "$start")
        start=$(date +%s%N)
        "$h5batch" merge --copy --output "$out/copy.h5" "${parts[@]}" > /dev/null
        copy_time=$(seconds "$start")
        printf "%d %d %d %.2f %.3f %.2f\n" "$round" "$shards" "$workers" "$shard_time" "$merge_time" "$copy_time"
    done
done
