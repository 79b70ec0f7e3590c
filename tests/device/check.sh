set -x
R=$PWD; export LD_LIBRARY_PATH=$R/.devcarry/lib TRAIL_PRELOAD=$R/.devcarry/lib/libtrail_preload.so TRAIL_STORE=/tmp/w/s.db TRAIL_SPOOL_ROOT=/tmp/w/spool
T=$R/.devcarry/trail; S=$R/tests/device/torch_dataloader.py
mkdir -p /tmp/w && cd /tmp/w
nvidia-smi -L; uname -r; ldd $T | grep -i "not found"
time python3 $S data bare.pt 256 2
time $T run --name gpu -- python3 $S data model.pt 256 2; echo "trail rc=$?"
$T show gpu --json > $OUT/show.json; $T show gpu > $OUT/show.txt; $T runs
python3 - <<'PY'
import json, os
r = json.load(open(os.environ["OUT"] + "/show.json"))
ins = [i["path"] for i in r.get("inputs", [])]
samples = [p for p in ins if "/tmp/w/data/sample_" in p]
print("pids", sorted({p["pid"] for p in r.get("processes", [])}))
outs = [o["path"] for o in r.get("outputs", [])]
print("status", r["status"], "exit", r.get("exit_code"))
print("samples read", len(samples), "of 256; labels", any(p.endswith("labels.txt") for p in ins))
print("model.pt output", "/tmp/w/model.pt" in outs)
procs = r.get("processes", [])
print("processes", len(procs))
cuda = [d for d in r.get("deps", []) if "cuda" in d.get("path", "").lower() or "nvidia" in d.get("path", "").lower()]
print("cuda/nvidia deps", len(cuda), [d["path"] for d in cuda[:5]])
PY
