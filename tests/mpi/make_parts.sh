#!/usr/bin/env bash
# make_parts.sh RATINGS_CSV DIR: the part files of the distributed tests,
# each with its own header:
#   ratings-0..4.csv         the ratings in 5 parts
#   weighted-0..4.csv        user,item,weight: weights k/7 (fractions that
#                            float sums round), and each part also holds the
#                            first 2,000 rows of the next, so pairs repeat
#                            across parts (and ranks)
#   small-0..3.csv           the ratings of items with ids below 700 (EASE's
#                            item x item matrix stays small)
#   small-weighted-0..3.csv  the same with weighted's weights and repeats
#   train-0..3.csv, test.csv  the ratings above 3, every tenth in test.csv
#                            and the others in 4 parts
#   bad-0..1.csv             part 1's second row has a rating that is not a number
set -euo pipefail
ratings=$1 dir=$2
rm -rf "$dir"
mkdir -p "$dir"
body=$dir/body
tail -n +2 "$ratings" > "$body"
split_into() {  # split_into FILE N PREFIX HEADER
  local file=$1 n=$2 prefix=$3 header=$4
  split -n "l/$n" -d -a 1 "$file" "$dir/tmp-"
  for part in "$dir"/tmp-*; do
    { echo "$header"; cat "$part"; } > "$prefix-${part##*tmp-}.csv"
    rm "$part"
  done
}
split_into "$body" 5 "$dir/ratings" "userId,movieId,rating,timestamp"
awk -F, '{ printf "%s,%s,%.6f\n", $1, $2, (NR % 7 + 1) / 7 }' "$body" > "$dir/weighted-body"
awk -F, '$2 < 700' "$body" > "$dir/small-body"
awk -F, '{ printf "%s,%s,%.6f\n", $1, $2, (NR % 7 + 1) / 7 }' "$dir/small-body" > "$dir/small-weighted-body"
split_into "$dir/small-body" 4 "$dir/small" "userId,movieId,rating,timestamp"
# Weighted parts, each followed by the first rows of the next.
repeat_next() {  # repeat_next BODY N PREFIX ROWS
  local file=$1 n=$2 prefix=$3 rows=$4
  split -n "l/$n" -d -a 1 "$file" "$dir/rep-"
  for ((k = 0; k < n; k++)); do
    {
      echo "user,item,weight"
      cat "$dir/rep-$k"
      head -n "$rows" "$dir/rep-$(((k + 1) % n))"
    } > "$prefix-$k.csv"
  done
  rm "$dir"/rep-*
}
repeat_next "$dir/weighted-body" 5 "$dir/weighted" 2000
repeat_next "$dir/small-weighted-body" 4 "$dir/small-weighted" 500
awk -F, '$3 > 3 && NR % 10 != 0' "$body" > "$dir/train-body"
split_into "$dir/train-body" 4 "$dir/train" "userId,movieId,rating,timestamp"
{ echo "userId,movieId,rating,timestamp"; awk -F, '$3 > 3 && NR % 10 == 0' "$body"; } > "$dir/test.csv"
printf 'userId,movieId,rating\n1,1,4\n' > "$dir/bad-0.csv"
printf 'userId,movieId,rating\n2,1,4\n2,3,four\n' > "$dir/bad-1.csv"
rm -f "$dir"/*-body "$body"
touch "$dir/stamp"
