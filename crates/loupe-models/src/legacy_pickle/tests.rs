//! A legacy checkpoint assembled by hand, opcode by opcode, as `torch.save` with
//! `_use_new_zipfile_serialization=False` writes it.

use super::*;

/// A minimal protocol-2 pickle writer: just the opcodes torch's legacy format uses.
struct Pickle(Vec<u8>);

impl Pickle {
    fn new() -> Self {
        Self(vec![0x80, 0x02])
    }
    fn op(mut self, op: u8) -> Self {
        self.0.push(op);
        self
    }
    fn str(mut self, s: &str) -> Self {
        self.0.push(b'X');
        self.0.extend((s.len() as u32).to_le_bytes());
        self.0.extend(s.as_bytes());
        self
    }
    fn int(mut self, v: u8) -> Self {
        self.0.extend([b'K', v]);
        self
    }
    fn global(mut self, module: &str, name: &str) -> Self {
        self.0.push(b'c');
        self.0.extend(format!("{module}\n{name}\n").as_bytes());
        self
    }
    fn ints(self, values: &[u8]) -> Self {
        let mut p = self.op(b'(');
        for v in values {
            p = p.int(*v);
        }
        p.op(b't')
    }
    /// `_rebuild_tensor_v2(persistent storage, offset, size, stride, False, OrderedDict())`
    fn tensor(
        self,
        storage: &str,
        key: &str,
        numel: u8,
        offset: u8,
        size: &[u8],
        stride: &[u8],
    ) -> Self {
        self.global("torch._utils", "_rebuild_tensor_v2")
            .op(b'(')
            .op(b'(')
            .str("storage")
            .global("torch", storage)
            .str(key)
            .str("cpu")
            .int(numel)
            .op(b'N')
            .op(b't')
            .op(b'Q')
            .int(offset)
            .ints(size)
            .ints(stride)
            .op(0x89)
            .global("collections", "OrderedDict")
            .op(b')')
            .op(b'R')
            .op(b't')
            .op(b'R')
    }
    fn end(self) -> Vec<u8> {
        self.op(b'.').0
    }
}

fn legacy_file() -> Vec<u8> {
    let mut file = MAGIC_PICKLE.to_vec();
    file.extend(Pickle::new().0.into_iter().chain([b'M', 0xe9, 0x03, b'.']));
    file.extend(
        Pickle::new()
            .op(b'}')
            .str("little_endian")
            .op(0x88)
            .op(b's')
            .end(),
    );
    let state = Pickle::new()
        .global("collections", "OrderedDict")
        .op(b')')
        .op(b'R')
        .op(b'(')
        // A 2×3 view stored column-major, as TF-converted weights are.
        .str("conv.weight")
        .tensor("FloatStorage", "10", 6, 0, &[2, 3], &[1, 2])
        // A view that starts inside a storage.
        .str("conv.bias")
        .tensor("FloatStorage", "11", 3, 1, &[2], &[1])
        .str("bn.num_batches_tracked")
        .tensor("LongStorage", "12", 1, 0, &[], &[])
        .op(b'u')
        .end();
    file.extend(state);
    file.extend(
        Pickle::new()
            .op(b']')
            .op(b'(')
            .str("10")
            .str("12")
            .str("11")
            .op(b'e')
            .end(),
    );
    let storage = |values: &[f32]| {
        let mut bytes = (values.len() as i64).to_le_bytes().to_vec();
        for v in values {
            bytes.extend(v.to_le_bytes());
        }
        bytes
    };
    file.extend(storage(&[0., 3., 1., 4., 2., 5.]));
    file.extend(1i64.to_le_bytes());
    file.extend(7i64.to_le_bytes());
    file.extend(storage(&[9., 10., 11.]));
    file
}

#[test]
fn reads_strided_float_tensors_and_skips_integer_ones() {
    let file = legacy_file();
    let mut tensors = read_state_dict(&mut file.as_slice()).unwrap();
    tensors.sort_by(|a, b| b.0.cmp(&a.0));
    let names: Vec<&str> = tensors.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["conv.weight", "conv.bias"]);
    let weight = &tensors[0].1;
    assert_eq!(weight.dims(), [2, 3]);
    assert_eq!(
        weight.to_vec2::<f32>().unwrap(),
        [[0., 1., 2.], [3., 4., 5.]]
    );
    assert_eq!(tensors[1].1.to_vec1::<f32>().unwrap(), [10., 11.]);
}

#[test]
fn refuses_a_zip_checkpoint_by_its_magic() {
    let err = read_state_dict(&mut &b"PK\x03\x04 not a legacy file"[..]).unwrap_err();
    assert!(err.to_string().contains("wrong magic number"), "{err}");
}

#[test]
fn reports_a_truncated_storage() {
    let mut file = legacy_file();
    file.truncate(file.len() - 4);
    let err = read_state_dict(&mut file.as_slice()).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
}
