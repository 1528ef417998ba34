# One device call: unpack the faces, train several models at once, report progress, pack results.
# usage: bash .gpu/go.sh SECONDS RUNSFILE   (RUNSFILE: lines "name args...")
T=$1; RUNS=$2; t0=$(date +%s)
export PYTHONPATH=$PWD/src:$PWD/.gpu/ag PYTHONUNBUFFERED=1
nvidia-smi -L; python3 -c "import torch;print('torch', torch.__version__, torch.cuda.is_available())"
D=/root/data/utkface-128px-webp
[ -d $D ] || python3 .gpu/unpack.py .gpu/utk128.npz $D
mkdir -p /root/runs
while read -r name args; do
  [ -z "$name" ] && continue
  setsid nohup python3 -m agegender -q train --data $D --cache-dir /root/cache --device ${DEVICE:-cuda} \
    --precision compact --workers 4 --out /root/runs/$name $args > /root/runs/$name.log 2>&1 < /dev/null &
  echo "launched $name: $args"
done < $RUNS
while [ $(( $(date +%s) - t0 )) -lt $T ]; do
  sleep ${TICK:-60}
  echo "== $(( $(date +%s) - t0 ))s"; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
  for f in /root/runs/*/log.csv; do echo "$f: $(tail -1 $f)"; done
  n=$(pgrep -f "agegender -q train" | wc -l); echo "running: $n"; [ "$n" -eq 0 ] && break
done
for f in /root/runs/*.log; do echo "--- $f"; tail -3 $f; done
python3 .gpu/collect.py /root/runs a1
