"""The peers of tests/bench/vectors.sh on the same bytes: faiss IndexFlatIP and numpy
matmul + argpartition, single queries and a batch of 64, at 1 and 2 threads. Prints
`name value unit` lines like the Rust benchmark."""
import os
import sys
import time

import numpy as np

directory, dim = sys.argv[1], int(sys.argv[2])
data = np.fromfile(os.path.join(directory, "data.f32"), dtype="<f4").reshape(-1, dim)
queries = np.fromfile(os.path.join(directory, "queries.f32"), dtype="<f4").reshape(-1, dim)


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def numpy_top10(q):
    scores = data @ q
    part = np.argpartition(-scores, 10)[:10]
    return part[np.argsort(-scores[part], kind="stable")]


def numpy_batch(qs):
    scores = qs @ data.T
    return np.argpartition(-scores, 10, axis=1)[:, :10]


lat = sorted(timed(lambda q=q: numpy_top10(q)) * 1000 for q in queries)
print(f"numpy_single_p50 {lat[len(lat) // 2]:.2f} ms")
print(f"numpy_single_qps {len(queries) / (sum(lat) / 1000):.1f} qps")
print(f"numpy_batch64_qps {len(queries) / timed(lambda: numpy_batch(queries)):.1f} qps")

import faiss  # noqa: E402

index = faiss.IndexFlatIP(dim)
index.add(data)
for threads in (1, 2):
    faiss.omp_set_num_threads(threads)
    lat = sorted(timed(lambda q=q: index.search(q.reshape(1, -1), 10)) * 1000 for q in queries)
    print(f"faiss_single_p50_{threads}t {lat[len(lat) // 2]:.2f} ms")
    print(f"faiss_single_qps_{threads}t {len(queries) / (sum(lat) / 1000):.1f} qps")
    print(f"faiss_batch64_qps_{threads}t {len(queries) / timed(lambda: index.search(queries, 10)):.1f} qps")
_, ids = index.search(queries[:1], 10)
print("faiss_top10 " + ",".join(str(i) for i in ids[0]) + " -")
