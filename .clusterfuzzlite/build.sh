#!/bin/bash -eu
# Builds every cargo-fuzz target with the sanitizer flags ClusterFuzzLite sets, and puts each
# binary in $OUT with its seed corpus (fuzz/corpus/<target> and fuzz/regressions/<target>)
# and its dictionary, named the way libFuzzer runners look for them.
cd "$SRC/mtpspec/fuzz"
cargo fuzz build -O --features loader   # loader: scenario_loader too
release=target/x86_64-unknown-linux-gnu/release
for source in fuzz_targets/*.rs; do
    target=$(basename "${source%.rs}")
    cp "$release/$target" "$OUT/"
    seeds=$(mktemp -d)
    for dir in corpus regressions; do
        if [ -d "$dir/$target" ]; then
            cp "$dir/$target"/* "$seeds/" 2>/dev/null || true
        fi
    done
    if [ -n "$(ls -A "$seeds")" ]; then
        (cd "$seeds" && zip -q -j "$OUT/${target}_seed_corpus.zip" ./*)
    fi
    rm -rf "$seeds"
    case "$target" in
        mmtp_*|hashcash_verify|tags) cp dict/mmtp.dict "$OUT/$target.dict" ;;
        scenario_loader) cp dict/scenario.dict "$OUT/$target.dict" ;;
        *) cp dict/smtp.dict "$OUT/$target.dict" ;;
    esac
done
