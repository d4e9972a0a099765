#!/bin/sh
# Runs busted with the given arguments and ends with busted's totals as one
# line, "N passed, N failed[, N skipped]" (errors count as failed), which CI
# reads. Exits with busted's status.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$@" 2>&1 | tee "$log"
line=$(grep -E '[0-9]+ success(es)? / [0-9]+ failures? / [0-9]+ errors? / [0-9]+ pending' "$log" | tail -n 1)
if [ -z "$line" ]; then
  echo "0 passed, 1 failed"
  exit 1
fi
echo "$line" | sed -E 's/^[^0-9]*//' | awk -F' / ' '{
  split($1, s, " "); split($2, f, " "); split($3, e, " "); split($4, p, " ");
  out = s[1] " passed, " (f[1] + e[1]) " failed";
  if (p[1] + 0 > 0) out = out ", " p[1] " skipped";
  print out; exit (f[1] + e[1] > 0) }'
