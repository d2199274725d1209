"""Peak RSS growth of one epoch of ``fit`` on the `wide` workload, in a fresh process.

Prints one JSON line: peak growth, bytes needed, data size (all MiB). The
peak is Linux's VmHWM after resetting it (``/proc/self/clear_refs``) once
the data exists, so creating the data set does not count.
"""

from __future__ import annotations

import json
import sys

import numpy as np

import layernet

from .wide import SIZES, make_data

MIB = 1024.0 * 1024.0


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def main() -> None:
    n = int(sys.argv[1])
    x, y = make_data(n)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = _status_kib("VmRSS")
    batch = 256
    model_layers: list[layernet.Layer] = []
    for i in range(len(SIZES) - 1):
        model_layers.append(layernet.Dense(SIZES[i], SIZES[i + 1], rng=i, dtype=np.float32))
        if i < len(SIZES) - 2:
            model_layers.append(layernet.ReLU())  # type: ignore[attr-defined]
    model = layernet.Sequential(model_layers)
    opt = layernet.SGD(model.parameters(), lr=0.01)
    model.fit(
        x,
        y,
        loss=layernet.CrossEntropyLoss(),
        optimizer=opt,
        epochs=1,  # type: ignore[attr-defined]
        batch_size=batch,
        verbose=0,
        rng=0,
    )
    peak = _status_kib("VmHWM")
    n_params = sum(p.size for p in model.parameters())
    state = sum(a.size for s in opt.state.values() for a in s.values())
    widths = sum(SIZES[1:])  # each layer's output
    activations = batch * (SIZES[0] + 2 * widths + sum(SIZES[1:-1]))  # batch, outputs+grads, relu
    needed = 4 * (2 * n_params + state + activations)
    print(
        json.dumps(
            {
                "peak_mib": (peak - base) / 1024.0,
                "needed_mib": needed / MIB,
                "data_mib": x.nbytes / MIB,
            }
        )
    )


if __name__ == "__main__":
    main()
