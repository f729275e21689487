//! A reader for PyTorch's legacy (pre-1.6, non-zip) checkpoint format, so the
//! EfficientNet-Lite0 weights convert to safetensors without torch.
//!
//! The format is a run of pickles followed by raw storages:
//! 1. the magic number `0x1950a86a20f9469cfc6c` (a pickled int),
//! 2. the protocol version (1001),
//! 3. system info (endianness, C type sizes),
//! 4. the pickled object (here a state dict) whose tensors name their storages through
//!    persistent ids `("storage", <StorageClass>, key, location, numel, view)`,
//! 5. a pickled list of storage keys, in the order the storages follow,
//! 6. per storage: its element count as a little-endian `i64`, then its raw bytes.
//!
//! candle's pickle reader only opens the zip format, but its pickle machine reads these
//! pickles; the magic number is checked here by its bytes because candle decodes `LONG1`
//! only up to 8 bytes and this one has 10.

use std::collections::HashMap;
use std::io::{BufRead, Read};

use candle_core::pickle::{Object, Stack};
use candle_core::{Device, Tensor};

/// The pickled magic number, as protocol 2 writes it: `PROTO 2`, `LONG1` of 10 bytes, `STOP`.
const MAGIC_PICKLE: [u8; 15] = [
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
];

/// A reason the checkpoint cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("legacy pytorch checkpoint: {0}")]
pub struct PickleError(String);

fn bad(message: impl Into<String>) -> PickleError {
    PickleError(message.into())
}

impl From<std::io::Error> for PickleError {
    fn from(e: std::io::Error) -> Self {
        bad(format!("truncated or unreadable: {e}"))
    }
}

impl From<candle_core::Error> for PickleError {
    fn from(e: candle_core::Error) -> Self {
        bad(e.to_string())
    }
}

/// Where a tensor's values live: a view into one storage.
#[derive(Debug, Clone, PartialEq)]
struct TensorRef {
    storage_key: String,
    offset: usize,
    shape: Vec<usize>,
    strides: Vec<usize>,
}

/// One storage's element type, as named by its class in the persistent id.
#[derive(Debug, Clone, Copy, PartialEq)]
enum StorageKind {
    Float,
    Double,
    Half,
    Long,
    Int,
    Byte,
    Bool,
}

impl StorageKind {
    fn from_class(name: &str) -> Option<Self> {
        Some(match name {
            "FloatStorage" => Self::Float,
            "DoubleStorage" => Self::Double,
            "HalfStorage" => Self::Half,
            "LongStorage" => Self::Long,
            "IntStorage" => Self::Int,
            "ByteStorage" => Self::Byte,
            "BoolStorage" => Self::Bool,
            _ => return None,
        })
    }

    fn element_size(self) -> usize {
        match self {
            Self::Double | Self::Long => 8,
            Self::Float | Self::Int => 4,
            Self::Half => 2,
            Self::Byte | Self::Bool => 1,
        }
    }

    /// Floating-point storages become f32 tensors; integer ones (BatchNorm's
    /// `num_batches_tracked`) carry no weights and are skipped.
    fn to_f32(self, bytes: &[u8]) -> Option<Vec<f32>> {
        match self {
            Self::Float => Some(
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            ),
            Self::Double => Some(
                bytes
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                    .collect(),
            ),
            Self::Half => Some(
                bytes
                    .chunks_exact(2)
                    .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// Reads every floating-point tensor of a legacy checkpoint whose top object is a
/// state dict, as contiguous f32 tensors (views with any strides are gathered).
pub fn read_state_dict<R: BufRead>(r: &mut R) -> Result<Vec<(String, Tensor)>, PickleError> {
    let mut magic = [0u8; MAGIC_PICKLE.len()];
    r.read_exact(&mut magic)?;
    if magic != MAGIC_PICKLE {
        return Err(bad(
            "not a legacy checkpoint (wrong magic number); zip checkpoints load with candle_core::pickle",
        ));
    }
    let protocol = read_pickle(r)?;
    if !matches!(protocol, Object::Int(1001) | Object::Long(1001)) {
        return Err(bad(format!("unsupported protocol version {protocol:?}")));
    }
    check_system_info(read_pickle(r)?)?;
    let (tensors, kinds) = tensor_refs(read_pickle(r)?)?;
    let keys = storage_keys(read_pickle(r)?)?;
    let storages = read_storages(r, &keys, &kinds)?;

    let mut out = Vec::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        let Some(values) = storages.get(&tensor.storage_key) else {
            continue; // an integer storage, skipped
        };
        let data = gather(values, &tensor).ok_or_else(|| {
            bad(format!(
                "tensor {name} reads past the end of its storage {}",
                tensor.storage_key
            ))
        })?;
        out.push((name, Tensor::from_vec(data, tensor.shape, &Device::Cpu)?));
    }
    Ok(out)
}

fn read_pickle<R: BufRead>(r: &mut R) -> Result<Object, PickleError> {
    let mut stack = Stack::empty();
    stack.read_loop(r)?;
    Ok(stack.finalize()?)
}

fn check_system_info(info: Object) -> Result<(), PickleError> {
    let Object::Dict(entries) = info else {
        return Err(bad("system info is not a dict"));
    };
    for (key, value) in entries {
        if key == Object::Unicode("little_endian".into()) && value == Object::Bool(false) {
            return Err(bad("big-endian checkpoints are not supported"));
        }
    }
    Ok(())
}

/// The state dict's tensors in file order, and each referenced storage's kind.
type Refs = (Vec<(String, TensorRef)>, HashMap<String, StorageKind>);

fn tensor_refs(state: Object) -> Result<Refs, PickleError> {
    let Object::Dict(entries) = state else {
        return Err(bad("the pickled object is not a state dict"));
    };
    let mut tensors = Vec::new();
    let mut kinds = HashMap::new();
    for (key, value) in entries {
        let Object::Unicode(name) = key else {
            continue;
        };
        // `_metadata` and other non-tensor entries are not weights.
        let Some((tensor, kind)) = tensor_ref(value)? else {
            continue;
        };
        kinds.insert(tensor.storage_key.clone(), kind);
        tensors.push((name, tensor));
    }
    Ok((tensors, kinds))
}

/// Decodes `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)`.
fn tensor_ref(value: Object) -> Result<Option<(TensorRef, StorageKind)>, PickleError> {
    let Object::Reduce { callable, args } = value else {
        return Ok(None);
    };
    let is_rebuild = matches!(&*callable, Object::Class { module_name, class_name }
        if module_name == "torch._utils" && class_name == "_rebuild_tensor_v2");
    if !is_rebuild {
        return Ok(None);
    }
    let Object::Tuple(args) = *args else {
        return Err(bad("tensor arguments are not a tuple"));
    };
    let [storage, offset, shape, strides, ..] = args.as_slice() else {
        return Err(bad("tensor has too few arguments"));
    };
    let (storage_key, kind) = persistent_storage(storage)?;
    Ok(Some((
        TensorRef {
            storage_key,
            offset: int(offset)?,
            shape: ints(shape)?,
            strides: ints(strides)?,
        },
        kind,
    )))
}

fn persistent_storage(storage: &Object) -> Result<(String, StorageKind), PickleError> {
    let Object::PersistentLoad(id) = storage else {
        return Err(bad("tensor storage is not a persistent id"));
    };
    let Object::Tuple(id) = &**id else {
        return Err(bad("persistent id is not a tuple"));
    };
    let [Object::Unicode(tag), Object::Class { class_name, .. }, Object::Unicode(key), ..] =
        id.as_slice()
    else {
        return Err(bad(format!("unexpected persistent id {id:?}")));
    };
    if tag != "storage" {
        return Err(bad(format!("unexpected persistent id tag {tag}")));
    }
    let kind = StorageKind::from_class(class_name)
        .ok_or_else(|| bad(format!("unsupported storage type {class_name}")))?;
    Ok((key.clone(), kind))
}

fn int(o: &Object) -> Result<usize, PickleError> {
    match o {
        Object::Int(v) if *v >= 0 => Ok(*v as usize),
        Object::Long(v) if *v >= 0 => Ok(*v as usize),
        other => Err(bad(format!("expected a non-negative int, got {other:?}"))),
    }
}

fn ints(o: &Object) -> Result<Vec<usize>, PickleError> {
    match o {
        Object::Tuple(items) => items.iter().map(int).collect(),
        other => Err(bad(format!("expected a tuple of ints, got {other:?}"))),
    }
}

fn storage_keys(keys: Object) -> Result<Vec<String>, PickleError> {
    let Object::List(keys) = keys else {
        return Err(bad("storage keys are not a list"));
    };
    keys.into_iter()
        .map(|k| match k {
            Object::Unicode(k) => Ok(k),
            other => Err(bad(format!("storage key is not a string: {other:?}"))),
        })
        .collect()
}

/// Reads every storage in key order; floating-point ones are kept as f32.
fn read_storages<R: Read>(
    r: &mut R,
    keys: &[String],
    kinds: &HashMap<String, StorageKind>,
) -> Result<HashMap<String, Vec<f32>>, PickleError> {
    let mut storages = HashMap::new();
    for key in keys {
        let kind = *kinds
            .get(key)
            .ok_or_else(|| bad(format!("storage {key} is listed but no tensor uses it")))?;
        let mut count = [0u8; 8];
        r.read_exact(&mut count)?;
        let count = usize::try_from(i64::from_le_bytes(count))
            .map_err(|_| bad(format!("storage {key} has a negative size")))?;
        let len = count
            .checked_mul(kind.element_size())
            .ok_or_else(|| bad(format!("storage {key} is too large")))?;
        let mut bytes = Vec::new();
        r.by_ref().take(len as u64).read_to_end(&mut bytes)?;
        if bytes.len() != len {
            return Err(bad(format!("storage {key} is truncated")));
        }
        if let Some(values) = kind.to_f32(&bytes) {
            storages.insert(key.clone(), values);
        }
    }
    Ok(storages)
}

/// Copies a strided view into a contiguous row-major buffer; None when it reads past
/// the storage.
fn gather(storage: &[f32], t: &TensorRef) -> Option<Vec<f32>> {
    let numel: usize = t.shape.iter().product();
    let mut out = Vec::with_capacity(numel);
    let mut index = vec![0usize; t.shape.len()];
    for _ in 0..numel {
        let at = t.offset
            + index
                .iter()
                .zip(&t.strides)
                .map(|(i, s)| i * s)
                .sum::<usize>();
        out.push(*storage.get(at)?);
        // Odometer increment over the shape, last dimension fastest.
        for d in (0..index.len()).rev() {
            index[d] += 1;
            if index[d] < t.shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
