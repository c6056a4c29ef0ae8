#!/usr/bin/env python3
# An ml-100k look-alike for trying MovieLens recipes where the real files are missing (README,
# "MovieLens-100K"). Writes u1..u5.base/.test into the directory given (default: .).
# Not part of the build or the tests; tests/tools/train_quality_test.cc has a C++ twin of one fold.
import random, sys

out = sys.argv[1] if len(sys.argv) > 1 else "."
# 943 users, 1682 items, 100,000 integer ratings 1..5 from a biased-MF teacher (k = 8) plus
# noise, with skewed activity and popularity; five disjoint 20% test folds, base files sorted
# by user like ml-100k's.
random.seed(42)
U, I, N, K = 943, 1682, 100000, 8
ub = [random.gauss(0, 0.35) for _ in range(U+1)]
ib = [random.gauss(0, 0.45) for _ in range(I+1)]
uf = [[random.gauss(0, 0.35) for _ in range(K)] for _ in range(U+1)]
vf = [[random.gauss(0, 0.35) for _ in range(K)] for _ in range(I+1)]
uw = [1.0/(r+5)**0.9 for r in range(U)]; random.shuffle(uw)
iw = [1.0/(r+5)**1.1 for r in range(I)]; random.shuffle(iw)
seen = set(); rows = []
users = random.choices(range(1, U+1), weights=uw, k=N*3)
items = random.choices(range(1, I+1), weights=iw, k=N*3)
for u, i in zip(users, items):
    if (u, i) in seen: continue
    seen.add((u, i))
    r = 3.53 + ub[u] + ib[i] + sum(a*b for a, b in zip(uf[u], vf[i])) + random.gauss(0, 0.85)
    r = min(5, max(1, int(round(r))))
    rows.append((u, i, r, 874724710 + len(rows)))
    if len(rows) == N: break
random.shuffle(rows)
for k in range(5):
    test = rows[k*20000:(k+1)*20000]
    base = rows[:k*20000] + rows[(k+1)*20000:]
    for name, part in (("base", base), ("test", test)):
        with open(f"{out}/u{k+1}.{name}", "w") as f:
            for u, i, r, t in sorted(part):
                f.write(f"{u}\t{i}\t{r}\t{t}\n")
