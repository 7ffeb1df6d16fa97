#!/bin/bash
# Submits a pipeline as SHARDS Slurm array tasks and a merge that runs once all succeeded.
#   PIPELINE=/data/jobs/nightly.yaml OUTPUT=/scratch/out/nightly.h5 SHARDS=16 ./h5batch-submit.sh
set -euo pipefail
: "${PIPELINE:?set PIPELINE to the pipeline file}"
: "${OUTPUT:?set OUTPUT to the merged output file}"
SHARDS=${SHARDS:-8}
here=$(cd "$(dirname "$0")" && pwd)
# H5BATCH_SHARDS: each array index is its shard, also when one index is resubmitted alone.
export PIPELINE OUTPUT SHARDS H5BATCH_SHARDS="$SHARDS" H5BATCH="${H5BATCH:-h5batch}"

# --parsable prints "jobid" or "jobid;cluster".
array=$(sbatch --parsable --array="0-$((SHARDS - 1))" --export=ALL "$here/h5batch-shards.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes --export=ALL "$here/h5batch-merge.sbatch")
echo "shards: job $array (array 0-$((SHARDS - 1))), merge: job ${merge%%;*} after them"
