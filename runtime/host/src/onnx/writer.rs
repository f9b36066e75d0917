//! The ONNX writer: one function per layer kind, each emitting its nodes and initializers.

use anyhow::{bail, ensure, Context, Result};
use metamorph::spec::{ArchSpec, Layer, ParamInfo, ParamKind, Shape};
use prost::Message;
use tract_onnx::pb::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto::dimension::Value as DimValue,
    tensor_shape_proto::Dimension, type_proto, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

/// The ONNX opset the writer targets (default domain).
pub const OPSET: i64 = 13;
/// ONNX IR version matching [`OPSET`].
const IR_VERSION: i64 = 7;
/// Name of the graph input: `[N, C, H, W]` float pixels in `[0, 1]`.
pub const INPUT: &str = "input";
/// Name of the graph output: `[N, classes]` logits.
pub const OUTPUT: &str = "logits";
/// Name of the symbolic batch dimension.
const BATCH: &str = "N";

/// Where a member came from, recorded in the model's `metadata_props`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    /// Data set the hypernet was trained on (e.g. `mnist`); empty if unknown.
    pub dataset: String,
    /// CRC-32 of the source hypernet file.
    pub checksum: u32,
}

impl Provenance {
    /// The provenance of members materialised from `net`.
    pub fn of(net: &metamorph::format::Hypernet<'_>) -> Self {
        Provenance { dataset: net.meta.dataset.into(), checksum: net.checksum }
    }
}

/// Encodes the member of base width `h` with parameters `params` (all tensors in canonical
/// order, `arch.costs(h).params` long) as ONNX model bytes. See the [module docs](super).
///
/// Errors if `arch` does not validate ([`ArchSpec::validate`]), `h` is outside the family's range,
/// `params` has the wrong length, or a parameter is not finite.
pub fn to_onnx(arch: &ArchSpec, h: usize, params: &[f32], provenance: &Provenance) -> Result<Vec<u8>> {
    Ok(to_model_proto(arch, h, params, provenance)?.encode_to_vec())
}

/// Like [`to_onnx`], but returns the protobuf message instead of its bytes.
pub fn to_model_proto(arch: &ArchSpec, h: usize, params: &[f32], provenance: &Provenance) -> Result<ModelProto> {
    let family = arch.name.as_str();
    // The fields are public, so a spec may never have been through `ArchSpec::new`.
    arch.validate().with_context(|| format!("{family}: invalid spec"))?;
    arch.check_h(h).with_context(|| format!("{family}: base width {h} outside [{}, {}]", arch.h_min, arch.h_max))?;
    let costs = arch.costs(h).with_context(|| format!("{family} at h = {h}"))?;
    ensure!(params.len() == costs.params, "{family} at h = {h} has {} parameters, got {}", costs.params, params.len());
    if let Some(i) = params.iter().position(|v| !v.is_finite()) {
        bail!("{family} at h = {h}: parameter {i} is not finite");
    }

    let mut g = Graph::default();
    let mut tensors = arch.params(h).peekable();
    let mut cur = INPUT.to_string();
    let mut saved: Vec<String> = Vec::new();
    for (index, (layer, input, _)) in arch.walk(h).enumerate() {
        let mut mine = Vec::new();
        while let Some(p) = tensors.next_if(|p| p.layer == index) {
            mine.push(p);
        }
        let ctx = || format!("{family} at h = {h}, layer {index} ({layer:?})");
        cur = match layer {
            Layer::Dense { .. } => g.dense(index, &cur, &mine, params).with_context(ctx)?,
            Layer::Conv2d { kernel, stride, pad, .. } => {
                g.conv(index, &cur, &mine, params, kernel, stride, pad).with_context(ctx)?
            }
            Layer::Relu => g.relu(index, &cur),
            Layer::MaxPool { kernel, stride } => g.pool(index, "MaxPool", &cur, kernel, stride),
            Layer::AvgPool { kernel, stride } => g.pool(index, "AveragePool", &cur, kernel, stride),
            Layer::GlobalAvgPool => g.global_avg_pool(index, &cur),
            Layer::Flatten => g.flatten(index, &cur, input),
            Layer::Save => {
                saved.push(cur.clone());
                cur
            }
            Layer::AddScaled => {
                let skip = saved.pop().with_context(|| format!("{}: AddScaled without Save", ctx()))?;
                g.add_scaled(index, &cur, &skip, &mine, params).with_context(ctx)?
            }
        };
    }
    ensure!(tensors.next().is_none(), "{family} at h = {h}: parameters left over after the last layer");
    g.rename_output(&cur, OUTPUT)?;

    let [c, hh, ww] = arch.input;
    let classes = arch.output_shape(h)?.len();
    let graph = GraphProto {
        name: format!("{family}-h{h}"),
        node: g.nodes,
        initializer: g.initializers,
        input: vec![value_info(INPUT, &[None, Some(c as i64), Some(hh as i64), Some(ww as i64)])],
        output: vec![value_info(OUTPUT, &[None, Some(classes as i64)])],
        ..Default::default()
    };
    let meta = |k: &str, v: String| StringStringEntryProto { key: k.into(), value: v };
    Ok(ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
        producer_name: "metamorph".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!(
            "{family} at width {:.4} (h = {h}); input: float pixels in [0, 1], [N, C, H, W]; output: logits [N, classes]",
            arch.width_of(h)
        ),
        graph: Some(graph),
        metadata_props: vec![
            meta("family", family.into()),
            meta("dataset", provenance.dataset.clone()),
            meta("width", format!("{}", arch.width_of(h))),
            meta("h", h.to_string()),
            meta("hypernet_crc32", format!("{:08x}", provenance.checksum)),
        ],
        ..Default::default()
    })
}

/// Nodes and initializers under construction.
#[derive(Default)]
struct Graph {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
}

impl Graph {
    fn node(&mut self, op: &str, name: String, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = format!("{name}.out");
        self.nodes.push(NodeProto {
            name,
            op_type: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.clone()],
            attribute: attrs,
            ..Default::default()
        });
        out
    }

    fn init(&mut self, info: &ParamInfo, dims: &[usize], params: &[f32]) -> String {
        let name = info.name().to_string();
        let data = &params[info.offset..info.offset + info.len()];
        self.initializers.push(TensorProto {
            name: name.clone(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: DataType::Float as i32,
            raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        });
        name
    }

    /// `Gemm(x, W, b)` with `transB = 1`: `W` is stored `[out, in]`.
    fn dense(&mut self, index: usize, x: &str, p: &[ParamInfo], params: &[f32]) -> Result<String> {
        let (w, b) = weight_bias(p)?;
        let wn = self.init(w, &[w.shape[0], w.shape[1]], params);
        let bn = self.init(b, &[b.shape[0]], params);
        Ok(self.node("Gemm", format!("layer{index}.gemm"), &[x, &wn, &bn], vec![int("transB", 1)]))
    }

    /// `Conv(x, W, b)` with square kernel, stride and symmetric zero padding.
    #[allow(clippy::too_many_arguments)]
    fn conv(
        &mut self,
        index: usize,
        x: &str,
        p: &[ParamInfo],
        params: &[f32],
        kernel: u8,
        stride: u8,
        pad: u8,
    ) -> Result<String> {
        let (w, b) = weight_bias(p)?;
        let wn = self.init(w, &w.shape, params);
        let bn = self.init(b, &[b.shape[0]], params);
        let (k, s, pd) = (kernel as i64, stride as i64, pad as i64);
        let attrs = vec![ints("kernel_shape", &[k, k]), ints("strides", &[s, s]), ints("pads", &[pd, pd, pd, pd])];
        Ok(self.node("Conv", format!("layer{index}.conv"), &[x, &wn, &bn], attrs))
    }

    fn relu(&mut self, index: usize, x: &str) -> String {
        self.node("Relu", format!("layer{index}.relu"), &[x], vec![])
    }

    /// `MaxPool` or `AveragePool` over square windows, no padding.
    fn pool(&mut self, index: usize, op: &str, x: &str, kernel: u8, stride: u8) -> String {
        let (k, s) = (kernel as i64, stride as i64);
        let name = format!("layer{index}.{}", op.to_lowercase());
        self.node(op, name, &[x], vec![ints("kernel_shape", &[k, k]), ints("strides", &[s, s])])
    }

    fn global_avg_pool(&mut self, index: usize, x: &str) -> String {
        self.node("GlobalAveragePool", format!("layer{index}.gap"), &[x], vec![])
    }

    /// `Flatten(axis = 1)`: `[N, …] → [N, F]`. A no-op on an already flat tensor.
    fn flatten(&mut self, index: usize, x: &str, input: Shape) -> String {
        if matches!(input, Shape::Flat(_)) {
            return x.to_string();
        }
        self.node("Flatten", format!("layer{index}.flatten"), &[x], vec![int("axis", 1)])
    }

    /// `skip + α · x`: `Mul` by the scalar branch scale, then `Add`. The `Mul` node is not named
    /// `layer<i>.scale`: that is the scale's initializer, and tract names its nodes after both.
    fn add_scaled(&mut self, index: usize, x: &str, skip: &str, p: &[ParamInfo], params: &[f32]) -> Result<String> {
        let [alpha] = p else { bail!("expected one scale tensor, found {}", p.len()) };
        ensure!(alpha.kind == ParamKind::Scale, "expected a scale tensor, found {:?}", alpha.kind);
        let an = self.init(alpha, &[1], params);
        let scaled = self.node("Mul", format!("layer{index}.mul"), &[x, &an], vec![]);
        Ok(self.node("Add", format!("layer{index}.add"), &[skip, &scaled], vec![]))
    }

    /// Renames the tensor `from` (produced by the last node) to the graph output name.
    fn rename_output(&mut self, from: &str, to: &str) -> Result<()> {
        if from == INPUT {
            // A graph with no nodes would alias input and output: add an explicit copy.
            self.nodes.push(NodeProto {
                name: "output.identity".into(),
                op_type: "Identity".into(),
                input: vec![from.into()],
                output: vec![to.into()],
                ..Default::default()
            });
            return Ok(());
        }
        let node = self
            .nodes
            .iter_mut()
            .rev()
            .find(|n| n.output.iter().any(|o| o == from))
            .with_context(|| format!("no node produces the final tensor {from}"))?;
        node.output = vec![to.into()];
        for n in &mut self.nodes {
            for i in &mut n.input {
                if i == from {
                    *i = to.into();
                }
            }
        }
        Ok(())
    }
}

fn weight_bias(p: &[ParamInfo]) -> Result<(&ParamInfo, &ParamInfo)> {
    match p {
        [w, b] if w.kind == ParamKind::Weight && b.kind == ParamKind::Bias => Ok((w, b)),
        _ => bail!("expected a weight and a bias tensor, found {:?}", p.iter().map(|p| p.kind).collect::<Vec<_>>()),
    }
}

fn int(name: &str, i: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Int as i32, i, ..Default::default() }
}

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Ints as i32, ints: v.to_vec(), ..Default::default() }
}

/// A float tensor value info; `None` dims are the symbolic batch `N`.
fn value_info(name: &str, dims: &[Option<i64>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Some(v) => DimValue::DimValue(*v),
                None => DimValue::DimParam(BATCH.into()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}
