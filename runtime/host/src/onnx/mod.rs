//! ONNX export of a materialised family member.
//!
//! [`to_onnx`] turns one width's parameters (canonical order, as from
//! [`Materialiser::to_vec`](metamorph::materialise::Materialiser::to_vec)) into a self-describing
//! ONNX model held in memory:
//!
//! - opset [`OPSET`], every parameter an initializer named like [`ParamInfo::name`](metamorph::spec::ParamInfo::name);
//! - input `input`, float pixels in `[0, 1]`, shape `[N, C, H, W]` with a symbolic batch `N`
//!   (an MLP flattens inside the graph; there is no normalisation to apply outside);
//! - output `logits`, shape `[N, classes]`;
//! - `metadata_props`: `family`, `dataset`, `width`, `h`, `hypernet_crc32`.
//!
//! ```
//! use metamorph_host::onnx::{to_onnx, Provenance};
//! use metamorph::spec::{ArchSpec, Dim, Layer};
//! use tract_onnx::prelude::*;
//! let arch = ArchSpec::new("id", [1, 1, 2], 2, 1, &[
//!     Layer::Flatten, Layer::Dense { out: Dim::Fixed(2) }, Layer::Relu,
//! ]).unwrap();
//! let params = [1.0, 0.0, 0.0, -1.0, 0.5, 0.5];
//! let bytes = to_onnx(&arch, 2, &params, &Provenance::default()).unwrap();
//! let model = tract_onnx::onnx().model_for_read(&mut &bytes[..]).unwrap();
//! assert_eq!(model.input_outlets().unwrap().len(), 1);
//! ```

mod writer;

pub use writer::{to_model_proto, to_onnx, Provenance, INPUT, OPSET, OUTPUT};
