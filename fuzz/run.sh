#!/usr/bin/env bash
# fuzz/run.sh TARGET SECONDS — run one fuzz target for SECONDS.
#
# Works on the stable toolchain: cargo-fuzz's default AddressSanitizer needs nightly's
# -Zsanitizer, so targets run with `--sanitizer none` (the crate forbids unsafe code, so
# ASan would watch only dependencies; libFuzzer's coverage instrumentation is a stable
# codegen option). Set FUZZ_ASAN=1 to use ASan through RUSTC_BOOTSTRAP instead.
#
# A crash leaves its input in fuzz/artifacts/TARGET/; copy it to
# tests/fuzz_crashes/TARGET/ so that `cargo test` replays it forever.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?usage: fuzz/run.sh TARGET SECONDS (targets: $(ls fuzz_targets | sed 's/\.rs$//' | tr '\n' ' '))}
seconds=${2:?usage: fuzz/run.sh TARGET SECONDS}

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
sanitizer=(--sanitizer none)
if [ "${FUZZ_ASAN:-0}" = 1 ]; then
    export RUSTC_BOOTSTRAP=1
    sanitizer=()
fi
mkdir -p "corpus/$target"
# Seed with the kept crashers, so that fixed bugs stay fixed.
if [ -d "../tests/fuzz_crashes/$target" ]; then
    cp -n ../tests/fuzz_crashes/"$target"/* "corpus/$target/" 2>/dev/null || true
fi
exec cargo fuzz run "${sanitizer[@]}" --release "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=4096 -timeout=20
