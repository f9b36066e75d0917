"""One INR-fitting step of a Metamorph MLP preset, written in PyTorch, for a speed comparison only.

The same computation as `trainer/benches/fit_step.rs` (the candle step of `metamorph-train fit`):
every morphed tensor's rows get the 6 raw coordinates plus their sin/cos at `bands` octaves, go
through that tensor's residual MLP (input layer, `depth` residual blocks with a branch scale, read
out), times a gain, divided by the fan-in; the generated MLP classifies one batch of MNIST-sized
inputs; cross-entropy plus 1e-4 * sum of the morphed tensors' norms; one backward pass;
AdamW with element-wise gradient clipping; EMA of the parameters. Prints milliseconds per step at
full and half width, the median of 15 after 3 warm-up steps.

    python scripts/fit_step_torch.py models/mnist-mlp.json
"""

import json
import math
import sys
import time

import torch


def rows_of(h_max_out, c_in, query):
    """Rows (queries) and values per row of a morphed tensor."""
    return (h_max_out * c_in, 1) if query == "pair" else (h_max_out, c_in)


class TensorMlp(torch.nn.Module):
    def __init__(self, features, hidden, depth, outputs):
        super().__init__()
        self.inp = torch.nn.Linear(features, hidden)
        self.blocks = torch.nn.ModuleList(torch.nn.Linear(hidden, hidden) for _ in range(depth))
        self.scales = torch.nn.ParameterList(torch.nn.Parameter(torch.tensor([0.1])) for _ in range(depth))
        self.out = torch.nn.Linear(hidden, outputs)
        self.gain = 1.0

    def forward(self, feats):
        h = torch.relu(self.inp(feats))
        for block, scale in zip(self.blocks, self.scales):
            h = h + torch.relu(block(h)) * scale
        return self.out(h) * self.gain


def fourier(raw, norm, bands):
    x = raw / norm
    freqs = (2.0 ** torch.arange(bands, dtype=torch.float32)) * math.pi
    angles = (x.unsqueeze(-1) * freqs).flatten(1)
    return torch.cat([x, torch.sin(angles), torch.cos(angles)], dim=1)


def morphed_tensors(h, inputs, classes):
    """(name, rows, values per row, c_in, output shape) of a 784-h-h-10 MLP, as the spec morphs it:
    the first layer a whole row per query, the others one value per (out, in) pair."""
    return [
        ("w1", h, inputs, inputs, (h, inputs)),
        ("b1", h, 1, 1, (h,)),
        ("w2", h * h, 1, h, (h, h)),
        ("b2", h, 1, 1, (h,)),
        ("w3", classes * h, 1, h, (classes, h)),
    ]


def main():
    preset = json.load(open(sys.argv[1]))
    torch.manual_seed(0)
    torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else torch.get_num_threads())
    inr, fit = preset["inr"], preset["fit"]
    h_max = preset["arch"]["h_max"]
    inputs = math.prod(preset["arch"]["input"])
    classes, batch = 10, fit["batch"]
    features = 6 + 12 * inr["bands"]
    mlps = {
        name: TensorMlp(features, inr["hidden"], inr["depth"], per_row)
        for name, _, per_row, _, _ in morphed_tensors(h_max, inputs, classes)
    }
    b3 = torch.zeros(classes)
    params = [p for m in mlps.values() for p in m.parameters()]
    opt = torch.optim.AdamW(params, lr=fit["lr"], weight_decay=1e-2)
    ema = [p.detach().clone() for p in params]
    x_all = torch.rand(60000, inputs)
    y_all = torch.randint(0, classes, (60000,))

    def step(h):
        generated = {}
        for index, (name, rows, _, c_in, shape) in enumerate(morphed_tensors(h, inputs, classes)):
            r = torch.arange(rows, dtype=torch.float32)
            i, j = (r // c_in, r % c_in) if c_in > 1 and name != "w1" else (r, torch.zeros(rows))
            raw = torch.stack(
                [torch.full((rows,), float(index)), i, j, torch.full((rows,), 5.0),
                 torch.full((rows,), float(shape[0])), torch.full((rows,), float(c_in))], dim=1)
            feats = fourier(raw, inr["norm"], inr["bands"])
            generated[name] = (mlps[name](feats) / c_in).reshape(shape)
        idx = torch.randint(0, 60000, (batch,))
        x, y = x_all[idx], y_all[idx]
        z = torch.relu(x @ generated["w1"].T + generated["b1"])
        z = torch.relu(z @ generated["w2"].T + generated["b2"])
        logits = z @ generated["w3"].T + b3
        loss = torch.nn.functional.cross_entropy(logits, y)
        loss = loss + 1e-4 * sum(w.norm() for w in generated.values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        for p in params:
            p.grad.clamp_(-10.0, 10.0)
        opt.step()
        with torch.no_grad():
            for e, p in zip(ema, params):
                e.mul_(0.995).add_(p, alpha=0.005)

    for h in [h_max, h_max // 2]:
        times = []
        for k in range(18):
            start = time.perf_counter()
            step(h)
            if k >= 3:
                times.append((time.perf_counter() - start) * 1e3)
        times.sort()
        print(f"torch fit step {preset['arch']['name']} h={h} batch={batch}: {times[len(times) // 2]:.2f} ms "
              f"(median of {len(times)}, torch {torch.__version__}, {torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
