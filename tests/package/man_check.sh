#!/usr/bin/env bash
# man_check.sh SRC CLUSTERD: the man pages stay current with the binary.
#   - clusterd(1) names every subcommand of `clusterd --help` and every agent flag of
#     `clusterd agent --help`;
#   - clusterd.yml(5) names every key `clusterd agent -config-check` prints;
#   - both carry the project version, and groff (-ww) and man --warnings report nothing.
set -euo pipefail
src=$1
bin=$2
man1=$src/docs/man/man1/clusterd.1
man5=$src/docs/man/man5/clusterd.yml.5
fail=0
# roff escapes '-' as '\-'; compare against the text with those escapes removed.
text1=$(sed 's/\\-/-/g' "$man1")
text5=$(sed 's/\\-/-/g' "$man5")

for cmd in $("$bin" --help | sed -n '/^Subcommands:/,$ s/^  \([a-z][a-z-]*\) .*/\1/p'); do
  grep -q -- "^\.B $cmd\b" <<<"$text1" || { echo "clusterd.1: subcommand '$cmd' is not described"; fail=1; }
done
for flag in $("$bin" agent --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
  [ "$flag" = --help ] && continue
  grep -q -- "-${flag#--}\b" <<<"$text1" || { echo "clusterd.1: agent flag '-${flag#--}' is not described"; fail=1; }
done
keys=$("$bin" agent -config-check -c /dev/null 2>/dev/null | sed -n 's/^\([a-z_]*\) = .*/\1/p')
[ -n "$keys" ] || { echo "man_check: no keys from -config-check"; fail=1; }
for key in $keys; do
  grep -Eq -- "^\.BR? (.* )?\"?$key\b" <<<"$text5" || { echo "clusterd.yml.5: key '$key' is not described"; fail=1; }
done
version=$("$bin" version | sed -n 's/^clusterd v//p')
for page in "$man1" "$man5"; do
  grep -q "^\.TH .*\"clusterd $version\"" "$page" || { echo "$(basename "$page"): .TH does not say clusterd $version"; fail=1; }
  out=$( { groff -man -ww -z "$page"; MANWIDTH=80 man --warnings -l "$page" >/dev/null; } 2>&1)
  [ -z "$out" ] || { echo "$(basename "$page"): $out"; fail=1; }
done
[ $fail -eq 0 ] && echo "man_check: clusterd.1 and clusterd.yml.5 are current"
exit $fail
