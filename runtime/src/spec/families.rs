//! The families Metamorph ships, as code. They match `models/<name>.json` (the trainer's tests
//! check that), so tests, benchmarks and tools can build them without reading a preset.
//!
//! ```
//! use metamorph::spec::families;
//! let mlp = families::mnist_mlp();
//! assert_eq!((mlp.h_max, mlp.classes().unwrap()), (256, 10));
//! ```

use super::{ArchSpec, Dim, Layer};
use crate::error::Result;

/// `Flatten → Dense(h) → Relu → Dense(h) → Relu → Dense(classes)` on `input`, `h` in `h_min..=h_max`.
pub fn mlp(name: &str, input: [u16; 3], classes: u16, h_max: u16, h_min: u16) -> Result<ArchSpec> {
    ArchSpec::new(
        name,
        input,
        h_max,
        h_min,
        &[
            Layer::Flatten,
            Layer::Dense { out: Dim::Width(1) },
            Layer::Relu,
            Layer::Dense { out: Dim::Width(1) },
            Layer::Relu,
            Layer::Dense { out: Dim::Fixed(classes) },
        ],
    )
}

/// NeuMeta's MNIST network: conv 3×3 1→h, conv 5×5 h→2h, conv 5×5 2h→4h (each with ReLU, the first
/// two followed by 2×2 max pooling), global average pooling, dense 4h→`classes`.
pub fn lenet(name: &str, input: [u16; 3], classes: u16, h_max: u16, h_min: u16) -> Result<ArchSpec> {
    let conv = |mult, kernel, pad| Layer::Conv2d { out: Dim::Width(mult), kernel, stride: 1, pad };
    let pool = Layer::MaxPool { kernel: 2, stride: 2 };
    ArchSpec::new(
        name,
        input,
        h_max,
        h_min,
        &[
            conv(1, 3, 1),
            Layer::Relu,
            pool,
            conv(2, 5, 2),
            Layer::Relu,
            pool,
            conv(4, 5, 2),
            Layer::Relu,
            Layer::GlobalAvgPool,
            Layer::Flatten,
            Layer::Dense { out: Dim::Fixed(classes) },
        ],
    )
}

/// `models/mnist-mlp.json`: 784-h-h-10, h in 8..=256.
pub fn mnist_mlp() -> ArchSpec {
    mlp("mnist-mlp", [1, 28, 28], 10, 256, 8).expect("a valid built-in spec")
}

/// `models/digits-mlp.json`: 64-h-h-10 on the 8×8 UCI digits, h in 2..=32.
pub fn digits_mlp() -> ArchSpec {
    mlp("digits-mlp", [1, 8, 8], 10, 32, 2).expect("a valid built-in spec")
}

/// `models/mnist-lenet.json`: [`lenet`] on MNIST, h in 2..=32.
pub fn mnist_lenet() -> ArchSpec {
    lenet("mnist-lenet", [1, 28, 28], 10, 32, 2).expect("a valid built-in spec")
}
