#!/bin/bash
# The randomized campaign (tests/it/campaign) run by hand: generated event
# sequences with kills, concurrent runs and full disks, played against the
# binaries in throwaway roots and checked against the serial model.
#
#   tests/campaign.sh --seed S --sequences N [--real N] [--jobs J]
#                     [--only I] [--replay 'EVENTS'] [--release]
#
#   --seed S        the seed (default: a fresh one, printed)
#   --sequences N   fake-kernel sequences (default 1000)
#   --real N        real-kernel sequences: the installed
#                   /usr/src/linux-headers-6.1.0-*-amd64 and real make (default 0)
#   --jobs J        sequences played at once (default 2)
#   --only I        play only sequence I (of --sequences, or of --real)
#   --replay 'E'    play this sequence (events separated by ';', as a
#                   divergence report prints them) instead
#   --release       build with the release profile
#
# Run as root for the full-disk events (a tmpfs per kernel). The last line
# is `campaign: N sequences, D divergences (seed S)`; the exit status is 0
# only when D is 0. Each divergence prints the seed, the sequence and a
# shrunk sequence.
set -u
cd "$(dirname "$0")/.." || exit 2

sequences=1000
real=0
jobs=2
profile=()
unset CAMPAIGN_SEED CAMPAIGN_ONLY CAMPAIGN_REPLAY CAMPAIGN_REPLAY_REAL
while [ $# -gt 0 ]; do
    case "$1" in
        --seed) export CAMPAIGN_SEED="$2"; shift 2 ;;
        --sequences) sequences="$2"; shift 2 ;;
        --real) real="$2"; shift 2 ;;
        --jobs) jobs="$2"; shift 2 ;;
        --only) export CAMPAIGN_ONLY="$2"; shift 2 ;;
        --replay) export CAMPAIGN_REPLAY="$2"; shift 2 ;;
        --release) profile=(--release); shift ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "campaign.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$sequences$real$jobs" in
    *[!0-9]*) echo "campaign.sh: --sequences, --real and --jobs take numbers" >&2; exit 2 ;;
esac
if [ -n "${CAMPAIGN_REPLAY:-}" ] && [ "$real" -gt 0 ]; then
    export CAMPAIGN_REPLAY_REAL=1
fi
export CAMPAIGN_SEQUENCES="$sequences" CAMPAIGN_REAL="$real" CAMPAIGN_JOBS="$jobs"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s)
cargo test --locked --all-features "${profile[@]}" --test it -- \
    campaign::campaign --exact --nocapture 2>&1 | tee "$log"
last=$(grep -E '^campaign: [0-9]+ sequences, [0-9]+ divergences \(seed [0-9]+\)$' "$log" | tail -1)
if [ -z "$last" ]; then
    echo "campaign: did not run (see above); $(( $(date +%s) - start )) s"
    exit 2
fi
echo "campaign: wall time including the build: $(( $(date +%s) - start )) s"
echo "$last"
d=$(echo "$last" | sed -E 's/^campaign: [0-9]+ sequences, ([0-9]+) divergences.*/\1/')
[ "$d" = 0 ]
